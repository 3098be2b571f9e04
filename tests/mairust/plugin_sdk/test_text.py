"""plain_text: plain text passes unchanged; an HTML preview (a newsletter without a plain
part) becomes its visible words, line by block, entities decoded, scripts and styles gone."""

from __future__ import annotations

from mairust.plugin_sdk import plain_text

NEWSLETTER = """<!DOCTYPE html><html><head><title>Deals</title>
<style>p { color: red; }</style></head>
<body><div class="hero"><h1>Spring sale &amp; more</h1></div>
<p>Up to 50&nbsp;% off <a href="https://shop.example/x">selected items</a>.</p>
<script>track("open");</script><!-- tracking pixel --><p>Unsubscribe<br>here</p>
</body></html>"""


def test_html_becomes_its_visible_words() -> None:
    assert plain_text(NEWSLETTER) == (
        "Spring sale & more\n\nUp to 50\xa0% off selected items .\n\nUnsubscribe\nhere"
    )


def test_plain_text_is_left_as_it_is() -> None:
    text = "Price: 3 < 5 and a <b>-like word, no markup\n\nTwo paragraphs."
    assert plain_text(text) == text
    assert plain_text("") == ""
