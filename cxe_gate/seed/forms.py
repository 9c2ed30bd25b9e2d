"""Filling a live page's form with what the recorded customers sent, control by control: text
fields, radio groups, checkboxes, selects of one or many, file inputs, and the submit button they
pressed; a field, or an option they chose, that the form no longer has is a problem. A control is
driven as a reader would find it: by the label it had when recorded, else its live label (a button
by its role and name), else its name; so a field renamed under the same label is still filled."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..har.form_labels import BUTTON
from .driver import missing_field
from .markers import Upload

if TYPE_CHECKING:
    from playwright.sync_api import ElementHandle, FilePayload, Locator

CHECK_TIMEOUT_MS = 2_000  # a styled control hidden behind a label is set by script after this
SUBMITS = frozenset({"submit", "image"})
# Inputs Playwright's fill() refuses: their value is set by script, as a widget would.
SET_BY_SCRIPT = frozenset({"range", "color"})

_CONTROLS = """form => {
  const plain = (text) => (text || "").replace(/\\s+/g, " ").trim();
  // A label's words, without a select's options or a textarea's text (as the seeder reads them).
  const words = (node) => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll("select, option, textarea, script, style, datalist, template")
      .forEach((n) => n.remove());
    return plain(copy.textContent);
  };
  const labelled = (e) => {
    const ids = (e.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean);
    const by = ids.map((id) => document.getElementById(id)).filter(Boolean).map(words);
    if (by.length) return by.join(" ");
    if (plain(e.getAttribute("aria-label"))) return plain(e.getAttribute("aria-label"));
    return e.labels && e.labels.length ? words(e.labels[0]) : "";
  };
  // A radio or checkbox group's name: its fieldset's legend, when the fieldset holds it alone.
  const legend = (e) => {
    const set = e.closest("fieldset");
    if (!set || !["radio", "checkbox"].includes(e.type)) return "";
    const names = new Set(Array.from(set.elements).map((c) => c.name).filter(Boolean));
    const first = set.querySelector(":scope > legend");
    return names.size === 1 && first ? words(first) : "";
  };
  return Array.from(form.elements).map((e, index) => ({
    index,
    name: e.name || "",
    kind: (e.type || e.tagName).toLowerCase(),
    value: e.value ?? "",
    options: e.options ? Array.from(e.options).map((o) => o.value) : null,
    disabled: !!e.disabled,
    label: labelled(e),
    text: plain(e.tagName === "BUTTON" ? e.textContent : (e.type === "submit" ? e.value : "")),
    group: legend(e),
  }));
}"""
_IS_CONTROL = "(e, index) => !!e.form && e.form.elements[index] === e"
_ELEMENT = "(form, index) => form.elements[index]"
_SET_VALUE = """(e, [property, value]) => {
  e[property] = value;
  e.dispatchEvent(new Event("input", { bubbles: true }));
  e.dispatchEvent(new Event("change", { bubbles: true }));
}"""


@dataclass(frozen=True)
class Control:
    index: int
    name: str
    kind: str  # input type, or select-one / select-multiple / textarea
    value: str
    options: list[str] | None
    disabled: bool
    label: str = ""  # its label's text (or aria-label), whitespace collapsed
    text: str = ""  # a submit button's own text: its accessible name
    group: str = ""  # a radio or checkbox group's fieldset legend


@dataclass
class Filled:
    """What filling found wrong, and the button to submit with: `press`, found by its role and
    name, else `submitter` (both None: the form's default). `located` says how each control was
    found, e.g. "get_by_label('Email')" or "name 'email'"."""

    problems: list[str]
    submitter: ElementHandle | None = None
    press: Locator | None = None
    located: list[str] = field(default_factory=list)


def recorded_values(value: Any) -> list[str]:
    """A recorded field's values: one, or the list a repeated field was sent as."""
    values = value if isinstance(value, list) else [value]
    return ["" if v is None else str(v) for v in values]


def _no_option(method: str, route: str, name: str, missing: Iterable[str]) -> str:
    listed = ", ".join(repr(v) for v in missing)
    return (
        f"{method} {route}: the form's `{name}` has no option {listed} "
        "(the recorded customers chose it)"
    )


class _Form:
    def __init__(
        self, form: Locator, method: str, route: str, recorded: dict[str, str] | None = None
    ) -> None:
        self.form = form
        self.recorded = {**(recorded or {})}  # field name → its recorded label (live name: below)
        self.method = method
        self.route = route
        self.filled = Filled([])
        self.used: set[int] = set()  # controls filled, by index

    def element(self, control: Control) -> ElementHandle:
        found = self.form.evaluate_handle(_ELEMENT, control.index).as_element()
        assert found is not None  # the index came from the same form a moment ago
        return found

    def _exactly(self, locator: Locator, control: Control) -> bool:
        """Does `locator` find this control and nothing else?"""
        return locator.count() == 1 and bool(locator.evaluate(_IS_CONTROL, control.index))

    def locate(self, control: Control) -> Locator | ElementHandle:
        """The control by the label it was recorded with, else by its live label, when that finds
        exactly it; else by its name and place."""
        self.used.add(control.index)
        for label in dict.fromkeys(filter(None, (self.recorded.get(control.name), control.label))):
            by_label = self.form.get_by_label(label, exact=True)
            if self._exactly(by_label, control):
                self.filled.located.append(f"get_by_label({label!r})")
                return by_label
        self.filled.located.append(f"name {control.name!r}")
        return self.element(control)

    def press(self, control: Control, recorded: str | None = None) -> None:
        """The submit button pressed: by its role and the name it was recorded with, else its live
        name, when that finds exactly it."""
        self.used.add(control.index)
        for name in dict.fromkeys(filter(None, (recorded, control.text, control.label))):
            button = self.form.get_by_role("button", name=name, exact=True)
            if self._exactly(button, control):
                self.filled.located.append(f"get_by_role('button', name={name!r})")
                self.filled.press = button
                return
        self.filled.located.append(f"name {control.name!r}")
        self.filled.submitter = self.element(control)

    def set_checked(self, control: Control, checked: bool) -> None:
        element = self.locate(control)
        try:
            element.set_checked(checked, timeout=CHECK_TIMEOUT_MS)
        except Exception:  # Playwright's TimeoutError: not clickable as it is styled
            element.evaluate(_SET_VALUE, ["checked", checked])

    def fill(self, name: str, recorded: Any, group: list[Control]) -> None:
        kinds = {c.kind for c in group}
        items = recorded if isinstance(recorded, list) else [recorded]
        uploads = [v for v in items if isinstance(v, Upload)]
        if uploads:
            self.upload(name, uploads, group)
            return
        values = recorded_values(recorded)
        if kinds <= {"hidden"}:
            return  # the live page's value (a CSRF token) is the right one
        if kinds & SUBMITS:
            pressed = [c for c in group if c.kind in SUBMITS and c.value in values]
            self.press((pressed or group)[0], self.recorded.get(BUTTON))
            return
        if kinds & {"radio", "checkbox"}:
            self.choose(name, values, [c for c in group if c.kind in ("radio", "checkbox")])
        elif kinds & {"select-one", "select-multiple"}:
            select = next(c for c in group if c.kind.startswith("select"))
            missing = [v for v in values if v not in (select.options or [])]
            if missing:
                self.filled.problems.append(_no_option(self.method, self.route, name, missing))
                return
            chosen = values if select.kind == "select-multiple" else values[:1]
            self.locate(select).select_option(chosen)
        elif "file" in kinds:
            # A HAR keeps a file's name, never its content: an empty file of that name stands in.
            files: list[FilePayload] = [
                {"name": v, "mimeType": "application/octet-stream", "buffer": b""}
                for v in values
                if v
            ]
            self.locate(next(c for c in group if c.kind == "file")).set_input_files(files)
        else:
            # Several text fields of one name take the recorded values in order.
            for control, value in zip(group, values, strict=False):
                if control.kind in SET_BY_SCRIPT:
                    self.locate(control).evaluate(_SET_VALUE, ["value", value])
                else:
                    self.locate(control).fill(value)

    def upload(self, name: str, uploads: list[Upload], group: list[Control]) -> None:
        """A file input the customers chose files in: placeholders of the recorded names and
        types, a few bytes each (a recording never keeps a file's content)."""
        control = next((c for c in group if c.kind == "file"), None)
        if control is None:
            self.filled.problems.append(
                f"{self.method} {self.route}: the form's `{name}` is no longer a file input "
                "(the recorded customers uploaded a file in it)"
            )
            return
        self.locate(control).set_input_files([u.payload() for u in uploads])

    def choose(self, name: str, values: list[str], group: list[Control]) -> None:
        """A radio group or checkboxes: the recorded values checked, other checkboxes cleared."""
        offered = {c.value for c in group}
        missing = [v for v in values if v not in offered]
        if missing:
            self.filled.problems.append(_no_option(self.method, self.route, name, missing))
            return
        for control in group:
            if control.value in values:
                self.set_checked(control, True)
            elif control.kind == "checkbox":
                self.set_checked(control, False)

    def clear_unsent(self, sent: Iterable[str], controls: list[Control]) -> None:
        """A checkbox or multi-select the customers left empty was not sent: empty it here too."""
        names = set(sent)
        for control in controls:
            filled = control.name in names or control.index in self.used
            if filled or not control.name or control.disabled:
                continue
            if control.kind == "checkbox":
                self.set_checked(control, False)
            elif control.kind == "select-multiple":
                self.element(control).select_option([])


def _group(controls: list[Control], name: str, label: str | None) -> list[Control]:
    """The live controls of a recorded field: the one control its recorded label (or button
    text, or a group's legend) names, else those of its name; so a renamed field with the same
    label is found."""
    live = [c for c in controls if not c.disabled]
    wanted = " ".join((label or "").split())
    if wanted:
        by_label = [c for c in live if wanted in (c.label, c.text) and c.kind not in ("hidden",)]
        named = [c for c in by_label if c.name == name]
        if named or len(by_label) == 1:
            return [c for c in live if c.name == (named or by_label)[0].name]
        # A radio or checkbox group is named by its fieldset's legend: one name under it.
        grouped = {c.name for c in live if c.group == wanted}
        if name in grouped or len(grouped) == 1:
            found = name if name in grouped else next(iter(grouped))
            return [c for c in live if c.name == found]
    return [c for c in live if c.name == name]


def _unnamed_button(filling: _Form, controls: list[Control], name: str | None) -> None:
    """The recorded submit button that has no name (so it was not sent), pressed by its name;
    the form's default submission when it has none."""
    if not name:
        return
    buttons = [c for c in controls if c.kind in SUBMITS and not c.disabled]
    if any(c.index in filling.used for c in buttons):
        return  # a named button was pressed already
    match = [c for c in buttons if name in (c.text, c.label)]
    if match:
        filling.press(match[0], name)


def fill_form(
    form: Locator,
    fields: dict[str, Any],
    method: str,
    route: str,
    labels: dict[str, str] | None = None,
) -> Filled:
    """Fills `form` with the recorded `fields` (name → value, or a list of values); `labels`:
    name → the label (or button text) a field had when it was recorded, and `BUTTON` → the name
    of the submit button pressed."""
    recorded = labels or {}
    controls = [Control(**c) for c in form.evaluate(_CONTROLS)]
    filling = _Form(form, method, route, {BUTTON: recorded[BUTTON]} if BUTTON in recorded else None)
    for name, value in fields.items():
        group = _group(controls, name, recorded.get(name))
        if not group:
            filling.filled.problems.append(missing_field(method, route, name, recorded.get(name)))
            continue
        # The live control's name keys its recorded label (a renamed field keeps its label).
        if name in recorded:
            filling.recorded[group[0].name] = recorded[name]
        filling.fill(name, value, group)
    _unnamed_button(filling, controls, recorded.get(BUTTON))
    filling.clear_unsent(fields, controls)
    return filling.filled
