"""Every piece of text a user sees exists in Chinese and English."""
import re

from cloud import i18n


def test_every_text_has_both_languages_and_the_same_placeholders():
    for key, texts in i18n.TEXT.items():
        assert set(texts) == set(i18n.LANGS), key
        assert all(texts[lang].strip() for lang in i18n.LANGS), key
        zh, en = (sorted(re.findall(r"%\((\w+)\)", texts[lang])) for lang in ("zh", "en"))
        assert zh == en, key
