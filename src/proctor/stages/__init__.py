"""One module per pipeline stage; `proctor.app` lists them in order."""
