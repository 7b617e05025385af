"""Reading server-rendered pages in tests."""

import html
import re


def page_text(response) -> str:
    """What a person reads on the page: the text without its tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", response.content.decode()))
