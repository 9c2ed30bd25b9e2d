"""Filling a live page's form with what the recorded customers sent, control by control: text
fields, radio groups, checkboxes, selects of one or many, file inputs, and the submit button they
pressed; a field, or an option they chose, that the form no longer has is a problem."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .driver import missing_field

if TYPE_CHECKING:
    from playwright.sync_api import ElementHandle, FilePayload, Locator

CHECK_TIMEOUT_MS = 2_000  # a styled control hidden behind a label is set by script after this
SUBMITS = frozenset({"submit", "image"})
# Inputs Playwright's fill() refuses: their value is set by script, as a widget would.
SET_BY_SCRIPT = frozenset({"range", "color"})

_CONTROLS = """form => Array.from(form.elements).map((e, index) => ({
  index,
  name: e.name || "",
  kind: (e.type || e.tagName).toLowerCase(),
  value: e.value ?? "",
  options: e.options ? Array.from(e.options).map((o) => o.value) : null,
  disabled: !!e.disabled,
}))"""
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


@dataclass
class Filled:
    """What filling found wrong, and the button to submit with (None: the form's default)."""

    problems: list[str]
    submitter: ElementHandle | None = None


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
    def __init__(self, form: Locator, method: str, route: str) -> None:
        self.form = form
        self.method = method
        self.route = route
        self.filled = Filled([])

    def element(self, control: Control) -> ElementHandle:
        found = self.form.evaluate_handle(_ELEMENT, control.index).as_element()
        assert found is not None  # the index came from the same form a moment ago
        return found

    def set_checked(self, control: Control, checked: bool) -> None:
        element = self.element(control)
        try:
            element.set_checked(checked, timeout=CHECK_TIMEOUT_MS)
        except Exception:  # Playwright's TimeoutError: not clickable as it is styled
            element.evaluate(_SET_VALUE, ["checked", checked])

    def fill(self, name: str, recorded: Any, group: list[Control]) -> None:
        values = recorded_values(recorded)
        kinds = {c.kind for c in group}
        if kinds <= {"hidden"}:
            return  # the live page's value (a CSRF token) is the right one
        if kinds & SUBMITS:
            pressed = [c for c in group if c.kind in SUBMITS and c.value in values]
            self.filled.submitter = self.element((pressed or group)[0])
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
            self.element(select).select_option(chosen)
        elif "file" in kinds:
            # A HAR keeps a file's name, never its content: an empty file of that name stands in.
            files: list[FilePayload] = [
                {"name": v, "mimeType": "application/octet-stream", "buffer": b""}
                for v in values
                if v
            ]
            self.element(next(c for c in group if c.kind == "file")).set_input_files(files)
        else:
            # Several text fields of one name take the recorded values in order.
            for control, value in zip(group, values, strict=False):
                if control.kind in SET_BY_SCRIPT:
                    self.element(control).evaluate(_SET_VALUE, ["value", value])
                else:
                    self.element(control).fill(value)

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
            if control.name in names or not control.name or control.disabled:
                continue
            if control.kind == "checkbox":
                self.set_checked(control, False)
            elif control.kind == "select-multiple":
                self.element(control).select_option([])


def fill_form(form: Locator, fields: dict[str, Any], method: str, route: str) -> Filled:
    """Fills `form` with the recorded `fields` (name → value, or a list of values)."""
    filling = _Form(form, method, route)
    controls = [Control(**c) for c in form.evaluate(_CONTROLS)]
    for name, recorded in fields.items():
        group = [c for c in controls if c.name == name and not c.disabled]
        if not group:
            filling.filled.problems.append(missing_field(method, route, name))
            continue
        filling.fill(name, recorded, group)
    filling.clear_unsent(fields, controls)
    return filling.filled
