"""The tags of a page that forms and tokens live in: named inputs (type and value), meta tags, and
forms with their fields' names. Read by correlation (which page handed out a token) and by seeded
suites (capturing a token, checking a form) alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    method: str
    action: str
    fields: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Input:
    name: str
    type: str
    value: str


class PageTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inputs: list[Input] = []
        self.metas: list[tuple[str, str]] = []  # (name, content)
        self.forms: list[Form] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k.lower(): v or "" for k, v in attrs}
        name = found.get("name", "")
        if tag == "form":
            self.forms.append(Form(found.get("method", "get").lower(), found.get("action", "")))
            self._in_form = True
        elif tag in ("input", "select", "textarea", "button") and name:
            if tag == "input":
                self.inputs.append(
                    Input(name, found.get("type", "").lower(), found.get("value", ""))
                )
            if self._in_form:
                self.forms[-1].fields.add(name)
        elif tag == "meta" and name:
            self.metas.append((name, found.get("content", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False

    def first_values(self, source: str) -> dict[str, str]:
        """name → value of the first input (`html_input`) or meta tag (`html_meta`) so named."""
        pairs = [(i.name, i.value) for i in self.inputs] if source == "html_input" else self.metas
        found: dict[str, str] = {}
        for name, value in pairs:
            found.setdefault(name, value)
        return found


def read_tags(text: str) -> PageTags:
    tags = PageTags()
    try:
        tags.feed(text)
        tags.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    return tags
