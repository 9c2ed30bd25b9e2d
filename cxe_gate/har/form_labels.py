"""What a recorded form page tells of a form post: each sent field's label (`<label for>`, a wrapping
`<label>`, `aria-label`, `aria-labelledby`; a radio or checkbox group's `<fieldset>` legend) and the
accessible name of the submit button pressed, so a seeded test can say and do what the customer
did. Only the `<form>` the post went to is parsed."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# The key of the pressed submit button's name: a control without a name is never sent, so no
# field is called "" (the button's own name, when it has one, also keys its label).
BUTTON = ""
MAX_LABEL = 80  # longer is a paragraph, not a label (and cutting it would break exact matching)
MAX_FIELDS = 60
SUBMITS = frozenset({"submit", "image"})
_FORM_START = re.compile(r"<form\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.IGNORECASE)
_FORM_END = re.compile(r"</form\s*>", re.IGNORECASE)
_NAME_CHAR = re.compile(r"[\w-]")  # before `id=`: another attribute's name (`data-id=`)
_TAG_NAME = re.compile(r"<(\w+)")
_LABEL_END = re.compile(r"</label\s*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""\b([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)
_VOID = frozenset({"input", "br", "img", "meta", "hr", "link", "wbr", "source", "area", "col"})
# Text a label holds that is not its words: a select's options, a textarea's content, scripts.
_MUTED = frozenset({"select", "option", "textarea", "script", "style", "datalist", "template"})


@dataclass
class _Control:
    tag: str
    name: str
    kind: str
    value: str
    attrs: dict[str, str]
    label: int | None  # the wrapping <label>'s index
    text: list[str] = field(default_factory=list)  # a <button>'s own text
    fieldset: int | None = None  # the innermost <fieldset>'s index


@dataclass
class _Fieldset:
    legend: list[str] = field(default_factory=list)  # its first <legend>'s text
    names: set[str] = field(default_factory=set)  # the names of the controls right inside it
    has_legend: bool = False


@dataclass
class _Label:
    target: str  # its `for`
    text: list[str] = field(default_factory=list)


class _FormReader(HTMLParser):
    """The controls, labels and texts of elements with an id, of one form's markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: list[_Control] = []
        self.labels: list[_Label] = []
        self.texts: dict[str, list[str]] = {}  # element id → its text
        self.fieldsets: list[_Fieldset] = []
        self._open: list[tuple[str, list[str] | None]] = []  # tag, the text it collects
        self._fieldsets: list[int] = []  # the open fieldsets, innermost last
        self._muted = 0

    def _fieldset(self) -> int | None:
        return self._fieldsets[-1] if self._fieldsets else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k.lower(): v or "" for k, v in attrs}
        sink: list[str] | None = None
        if tag in ("input", "select", "textarea", "button"):
            kind = found.get("type", "submit" if tag == "button" else "").lower() or tag
            inside = any(t == "label" for t, _ in self._open)  # labels do not nest
            label = len(self.labels) - 1 if inside else None
            control = _Control(
                tag, found.get("name", ""), kind, found.get("value", ""), found, label
            )
            control.fieldset = self._fieldset()
            if control.fieldset is not None and control.name:
                self.fieldsets[control.fieldset].names.add(control.name)
            self.controls.append(control)
            sink = control.text if tag == "button" else None
        elif tag == "fieldset":
            self.fieldsets.append(_Fieldset())
            self._fieldsets.append(len(self.fieldsets) - 1)
        elif tag == "legend" and (at := self._fieldset()) is not None:
            if not self.fieldsets[at].has_legend:  # only the first legend names the fieldset
                self.fieldsets[at].has_legend = True
                sink = self.fieldsets[at].legend
        elif tag == "label":
            self.labels.append(_Label(found.get("for", "")))
            sink = self.labels[-1].text
        if found.get("id"):  # a label or button with an id shares its text list
            sink = self.texts.setdefault(found["id"], sink if sink is not None else [])
        if tag in _MUTED:
            self._muted += 1
        if tag not in _VOID:
            self._open.append((tag, sink))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):  # browsers close what was left open
            if self._open[i][0] == tag:
                for closed, _ in self._open[i:]:
                    if closed in _MUTED:
                        self._muted -= 1
                    if closed == "fieldset" and self._fieldsets:
                        self._fieldsets.pop()
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        if self._muted:
            return
        for _, sink in self._open:
            if sink is not None:
                sink.append(data)


def _plain(parts: Sequence[str]) -> str:
    return " ".join("".join(parts).split())


def _attributes(tag: str) -> dict[str, str]:
    return {m[1].lower(): m[2] or m[3] or m[4] or "" for m in _ATTRIBUTE.finditer(tag)}


def _same_target(page_url: str, action: str, post_url: str) -> bool:
    target = urlsplit(urljoin(page_url, action or page_url))
    posted = urlsplit(post_url)
    return (target.path or "/") == (posted.path or "/")


def _form_markup(html: str, page_url: str, post_url: str, names: Sequence[str]) -> str | None:
    """The markup of the post form whose action is the post's URL; of several, the one naming
    most of the sent fields."""
    best: tuple[int, str] | None = None
    for start in _FORM_START.finditer(html):
        attrs = _attributes(start.group())
        if attrs.get("method", "get").lower() != "post":
            continue
        if not _same_target(page_url, attrs.get("action", ""), post_url):
            continue
        end = _FORM_END.search(html, start.end())
        markup = html[start.start() : end.end() if end else len(html)]
        score = sum(1 for name in names if name and name in markup)
        if best is None or score > best[0]:
            best = (score, markup)
    return None if best is None else best[1]


def _outside_text(html: str, element_id: str) -> str:
    """The text of an element outside the form (a `<label for>` or an aria-labelledby target),
    found by a targeted search rather than parsing the page."""
    # The attribute first, then its tag's start: a pattern starting at every `<` (or one with a
    # look-behind) is 100x slower on a big page.
    pattern = re.compile(rf"""id\s*=\s*["']?{re.escape(element_id)}(?=["'\s>/])""")
    found = next(
        (m for m in pattern.finditer(html) if not _NAME_CHAR.match(html, m.start() - 1)), None
    )
    tag_at = html.rfind("<", 0, found.start()) if found else -1
    start = _TAG_NAME.match(html, tag_at) if tag_at >= 0 else None
    if start is None:
        return ""
    end = re.compile(rf"</{start[1]}\s*>", re.IGNORECASE).search(html, start.end())
    reader = _FormReader()
    reader.feed(html[start.start() : end.end() if end else start.end() + 2000])
    return _plain(reader.texts.get(element_id, []))


def _outside_label(html: str, control_id: str) -> str:
    quoted = re.escape(control_id)
    start = re.search(rf"""<label\b[^>]*\bfor\s*=\s*["']?{quoted}["'\s>/]""", html, re.IGNORECASE)
    if start is None:
        return ""
    end = _LABEL_END.search(html, start.end())
    reader = _FormReader()
    reader.feed(html[start.start() : end.end() if end else start.end() + 2000])
    return _plain(reader.labels[0].text) if reader.labels else ""


class _Names:
    """Accessible names of a form's controls, in the order a browser gives them."""

    def __init__(self, reader: _FormReader, html: str) -> None:
        self.reader = reader
        self.html = html
        self.by_for: dict[str, str] = {}
        for label in reader.labels:
            if label.target:
                self.by_for.setdefault(label.target, _plain(label.text))

    def _text(self, element_id: str) -> str:
        if element_id in self.reader.texts:
            return _plain(self.reader.texts[element_id])
        return _outside_text(self.html, element_id)

    def label(self, control: _Control) -> str:
        attrs = control.attrs
        if attrs.get("aria-labelledby", "").strip():
            return " ".join(filter(None, map(self._text, attrs["aria-labelledby"].split())))
        if attrs.get("aria-label", "").strip():
            return _plain([attrs["aria-label"]])
        control_id = attrs.get("id", "")
        if control_id:
            found = self.by_for.get(control_id) or _outside_label(self.html, control_id)
            if found:
                return found
        if control.label is not None:
            return _plain(self.reader.labels[control.label].text)
        return ""

    def button(self, control: _Control) -> str:
        """A submit button's name: its label, else its text (`<button>`), value or alt."""
        own = _plain(control.text) if control.tag == "button" else control.value
        if control.kind == "image":
            own = control.attrs.get("alt", "")
        return self.label(control) or _plain([own])


def form_labels(
    html: str,
    page_url: str,
    post_url: str,
    sent: Sequence[tuple[str, str]],
    personal: Callable[[str], bool] = lambda text: False,
) -> dict[str, str]:
    """Sent field name → its label on the recorded page, and `BUTTON` → the pressed submit
    button's name; a label that is empty, too long or `personal` is left out. A radio or checkbox
    group has a label per option, none for the field: it takes its `<fieldset>`'s legend when the
    fieldset holds that group alone, else it is left out too."""
    names = list(dict.fromkeys(name for name, _ in sent))[:MAX_FIELDS]
    markup = _form_markup(html, page_url, post_url, names)
    if markup is None:
        return {}
    reader = _FormReader()
    try:
        reader.feed(markup)
        reader.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        return {}
    accessible = _Names(reader, html)
    values = {name: [v for n, v in sent if n == name] for name in names}
    found: dict[str, str] = {}
    for name in names:
        group = [c for c in reader.controls if c.name == name and "disabled" not in c.attrs]
        buttons = [c for c in group if c.kind in SUBMITS]
        if buttons:
            pressed = next((c for c in buttons if c.value in values[name]), None)
            if pressed is not None:
                found[name] = found[BUTTON] = accessible.button(pressed)
        elif len(group) == 1 and group[0].kind not in ("hidden", "radio"):
            found[name] = accessible.label(group[0])
        elif (legend := _legend(reader, group)) is not None:
            found[name] = legend
    if BUTTON not in found:
        # No named button was sent: the form's only unnamed submit button was the one pressed.
        unnamed = [c for c in reader.controls if c.kind in SUBMITS and not c.name]
        if len(unnamed) == 1:
            found[BUTTON] = accessible.button(unnamed[0])
    return {
        name: text
        for name, text in found.items()
        if text and len(text) <= MAX_LABEL and not personal(text)
    }


def _legend(reader: _FormReader, group: Sequence[_Control]) -> str | None:
    """The legend of the fieldset that holds a radio or checkbox group and nothing else named."""
    if not group or any(c.kind not in ("radio", "checkbox") for c in group):
        return None
    places = {c.fieldset for c in group}
    if len(places) != 1 or (at := places.pop()) is None:
        return None
    fieldset = reader.fieldsets[at]
    return _plain(fieldset.legend) if len(fieldset.names) == 1 else None
