"""Secrets in cxe.yml: written as `${ENV_VAR}` references, never inline, so that only the
variable's name is ever stored, printed or echoed in an error."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class SecretRef(str):
    """A secret written as `${ENV_VAR}`: only the variable's name is ever stored or printed."""

    @property
    def variable(self) -> str:
        match = _ENV_REF.match(self)
        assert match  # guaranteed by validation
        return match[1]

    @classmethod
    def validate(cls, value: object) -> SecretRef:
        if not isinstance(value, str) or not _ENV_REF.match(value.strip()):
            # Never echo the value: it may be the secret itself, pasted inline by mistake.
            raise ValueError(
                "secrets must be written as an environment variable reference such as "
                "${DATADOG_API_KEY}, never inline"
            )
        return cls(value.strip())


Secret = Annotated[
    str,
    BeforeValidator(SecretRef.validate),  # refuses anything else before it could be echoed
    AfterValidator(SecretRef),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _ENV_REF.pattern, "examples": ["${API_KEY}"]}),
]
