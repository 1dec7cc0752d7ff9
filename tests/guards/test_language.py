"""Language identification: common languages, undetermined short texts, odd input."""

from __future__ import annotations

import pytest

from proctor.guards.language import UNDETERMINED, detect_language


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("en", "Hello, could you tell me where my order is? It was due yesterday."),
        ("fr", "Bonjour, pourriez-vous me dire où est ma commande ? Elle devait arriver hier."),
        ("de", "Guten Tag, können Sie mir sagen, wo meine Bestellung ist? Sie war gestern fällig."),
        ("es", "Hola, ¿podría decirme dónde está mi pedido? Debía llegar ayer."),
        ("ru", "Здравствуйте, подскажите, где мой заказ? Он должен был прийти вчера."),
        ("zh", "你好，请问我的订单在哪里？它昨天就应该到了。"),  # noqa: RUF001
        ("ja", "こんにちは、私の注文はどこにありますか？昨日届くはずでした。"),  # noqa: RUF001
        ("ar", "مرحبا، هل يمكنك أن تخبرني أين طلبي؟ كان من المفترض أن يصل أمس."),
    ],
)
def test_common_languages(code: str, text: str) -> None:
    detected, confidence = detect_language(text)
    assert detected == code
    assert 0.5 < confidence <= 1.0


@pytest.mark.parametrize("text", ["", "ok", "thanks!", "12345 678 !!!", "👍👍👍"])
def test_too_little_text_is_undetermined(text: str) -> None:
    assert detect_language(text) == (UNDETERMINED, 0.0)


@pytest.mark.parametrize("text", ["\x00" * 100, "\ud800" * 50 + "abc" * 10, "a" * 1_000_000])
def test_odd_input_never_raises(text: str) -> None:
    code, confidence = detect_language(text)
    assert isinstance(code, str)
    assert 0.0 <= confidence <= 1.0
