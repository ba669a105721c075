"""HTML to readable text with the standard library parser."""

from __future__ import annotations

from talaria.tools.builtin.html_text import html_to_text


def test_title_is_separate_and_whitespace_collapsed() -> None:
    title, text = html_to_text("<title>\n  A   title </title><p>Body\n   text</p>")
    assert title == "A title"
    assert text == "Body text"


def test_invisible_elements_are_dropped() -> None:
    html = (
        "<p>shown</p><script>if (a < b) { hidden() }</script><style>p{}</style>"
        "<template><p>tpl</p></template><noscript>js off</noscript><svg><text>g</text></svg>"
    )
    assert html_to_text(html)[1] == "shown"


def test_blocks_headings_lists_and_tables_keep_their_shape() -> None:
    html = (
        "<h2>Section</h2><div>one</div><div>two<br>three</div>"
        "<ol><li>first</li><li>second</li></ol>"
        "<table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>"
    )
    assert html_to_text(html)[1].splitlines() == [
        "## Section",
        "",
        "one",
        "two",
        "three",
        "",
        "- first",
        "- second",
        "",
        "k | v",
        "a | 1",
    ]


def test_pre_keeps_indentation() -> None:
    text = html_to_text("<p>code:</p><pre>def f():\n    return 1\n</pre>")[1]
    assert "def f():\n    return 1" in text


def test_links_are_resolved_and_shown_once() -> None:
    html = (
        '<p><a href="guide.html">the guide</a>, <a href="https://x.test/">https://x.test/</a>, '
        '<a href="#top">top</a>, <a href="/img"></a></p>'
    )
    text = html_to_text(html, "https://site.test/docs/index.html")[1]
    assert text == (
        "the guide (https://site.test/docs/guide.html), https://x.test/, top, https://site.test/img"
    )


def test_entities_are_decoded() -> None:
    assert (
        html_to_text("<p>fish &amp; chips &lt;3 &eacute;t&eacute;</p>")[1] == "fish & chips <3 été"
    )
