"""Request and response bodies of the service (pydantic; the OpenAPI schema is built from them).

Requests are strict: unknown fields are refused (``extra="forbid"``), every
record field is a string or null (a number where a string belongs is an error,
not silently converted: an ID read as a number has already lost its ``X``),
and batches hold at most :data:`MAX_BATCH` records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

from normalizers import schema as s

MAX_BATCH: Final = 1000
MAX_TOP_K: Final = 50
MAX_FIELD_CHARS: Final = 512

_FIELD_DOCS: Final = {
    s.SOURCE: "The department that sent the record.",
    s.RECORD_ID: "The record's identifier, unique within its source.",
    s.NAME: "Name as written: Han characters (simplified or traditional) or otherwise.",
    s.NAME_LATIN: "Romanized name: pinyin, passport style, Wade-Giles, Cantonese.",
    s.ID_TYPE: "Declared document type (a hint only: the number decides).",
    s.ID_NUMBER: "Resident ID, permit, passport or permanent-residence ID, as written.",
    s.BIRTH_DATE: "Birth date as written.",
    s.SEX: "Sex as written.",
    s.PHONE: "Phone number as written.",
    s.ADDRESS: "Address as written.",
    s.ETHNICITY: "Ethnicity as written.",
}
_STRICT: Final = ConfigDict(extra="forbid", strict=True)

Purpose = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    Field(
        description="Why this query is made (required: every query is purpose-bound and audited)."
    ),
]
TopK = Annotated[
    int, Field(ge=1, le=MAX_TOP_K, description="How many candidate persons to return.")
]
Explain = Annotated[
    bool, Field(description="Return each comparison's level and weight for the best candidate.")
]


def _field(column: str, *, required: bool) -> tuple[Any, Any]:
    if required:
        return (
            Annotated[str, StringConstraints(min_length=1, max_length=MAX_FIELD_CHARS)],
            Field(description=_FIELD_DOCS[column]),
        )
    return (
        Annotated[str, StringConstraints(max_length=MAX_FIELD_CHARS)] | None,
        Field(default=None, description=_FIELD_DOCS[column]),
    )


QueryRecord: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "QueryRecord",
    __config__=_STRICT,
    __doc__="A record in the canonical schema; every field optional, a string or null.",
    **{c: _field(c, required=False) for c in s.RAW_COLUMNS},
)
IngestRecord: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "IngestRecord",
    __config__=_STRICT,
    __doc__="A record to ingest: the canonical schema with source and record_id required.",
    **{c: _field(c, required=c in s.KEY_COLUMNS) for c in s.RAW_COLUMNS},
)


def _one_or_many(model: BaseModel) -> BaseModel:
    single = getattr(model, "record", None)
    many = getattr(model, "records", None)
    if (single is None) == (many is None):
        raise ValueError("give exactly one of `record` (one record) or `records` (a batch)")
    return model


class ResolveRequest(BaseModel):
    """One record (``record``) or a batch of up to 1,000 (``records``) to resolve."""

    model_config = _STRICT
    purpose: Purpose
    record: QueryRecord | None = None  # type: ignore[valid-type]
    records: Annotated[
        list[QueryRecord] | None,  # type: ignore[valid-type]
        Field(min_length=1, max_length=MAX_BATCH, description=f"Up to {MAX_BATCH} records."),
    ] = None
    top_k: TopK = 5
    explain: Explain = False

    _check = model_validator(mode="after")(_one_or_many)

    @property
    def rows(self) -> list[dict[str, str | None]]:
        items = [self.record] if self.record is not None else list(self.records or ())
        return [item.model_dump() for item in items]


class IngestRequest(BaseModel):
    """Records to add to the store: each attaches to a person or creates one."""

    model_config = _STRICT
    purpose: Purpose
    record: IngestRecord | None = None  # type: ignore[valid-type]
    records: Annotated[
        list[IngestRecord] | None,  # type: ignore[valid-type]
        Field(min_length=1, max_length=MAX_BATCH, description=f"Up to {MAX_BATCH} records."),
    ] = None

    _check = model_validator(mode="after")(_one_or_many)

    @property
    def rows(self) -> list[dict[str, str | None]]:
        items = [self.record] if self.record is not None else list(self.records or ())
        return [item.model_dump() for item in items]


class ScreenRequest(BaseModel):
    """One record screened against a named red or black list held in the store."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)
    purpose: Purpose
    list_name: Annotated[
        str,
        StringConstraints(min_length=1, max_length=64),
        Field(alias="list", description="The list's name, as given to `linkage lists load`."),
    ]
    record: QueryRecord  # type: ignore[valid-type]
    top_k: TopK = 5
    explain: Explain = False


# ---------------------------------------------------------------- responses
class Candidate(BaseModel):
    person_id: str
    probability: float
    match_weight: float
    source: str = Field(description="Source of the person's best-scoring record.")
    record_id: str = Field(description="That record's identifier.")


class Resolution(BaseModel):
    status: Literal["known", "match", "review", "no_match", "rejected"] = Field(
        description="known: the record itself is in the store; match: best person at or above "
        "the match threshold; review: between the review and match thresholds; no_match: "
        "below; rejected: the record has nothing linkable (see reason)."
    )
    person_id: str | None = Field(description="The person, for known and match; else null.")
    probability: float | None
    candidates: list[Candidate]
    reason: str | None = None
    explanation: list[dict[str, Any]] | None = None


class ResolveResponse(BaseModel):
    results: list[Resolution] = Field(description="One per input record, in input order.")


class IngestDecision(BaseModel):
    source: str
    record_id: str
    action: Literal["exists", "attached", "created", "merged", "rejected"]
    person_id: str | None
    probability: float | None
    merged: list[str] = Field(description="Person IDs merged into person_id by this record.")
    reason: str | None = None


class IngestResponse(BaseModel):
    results: list[IngestDecision]


class PersonRecord(BaseModel):
    """A linked record; ID and phone numbers masked."""

    source: str
    record_id: str
    match_probability: float | None = None
    name: str | None = None
    name_latin: str | None = None
    id_type: str | None = None
    id_number: str | None = Field(None, description="Masked: 110101********1234.")
    birth_date: str | None = None
    sex: str | None = None
    phone: str | None = Field(None, description="Masked: 138****5678.")
    address: str | None = None
    ethnicity: str | None = None


class Person(BaseModel):
    person_id: str = Field(description="The active person now holding the records.")
    requested_id: str = Field(description="The ID asked for (differs when it was merged away).")
    records: list[PersonRecord]


class ScreenHit(BaseModel):
    entry: str = Field(description="The list entry as <source>:<record_id>.")
    source: str
    record_id: str
    probability: float
    match_weight: float
    level: Literal["match", "review"] = Field(
        description="match: at or above the model's match threshold; "
        "review: between the review and match thresholds."
    )


class ScreenResponse(BaseModel):
    list_name: str = Field(serialization_alias="list", description="The list screened against.")
    kind: str
    loaded_at: datetime
    hit: bool = Field(description="True when some entry matches at or above the match threshold.")
    hits: list[ScreenHit]
    status: str = Field(description="The resolution status against the list (see /v1/resolve).")
    explanation: list[dict[str, Any]] | None = None


class Health(BaseModel):
    status: Literal["ok"]
    records: int
    persons: int
    started_at: datetime
    replicas: int = Field(description="Resolver replica processes serving (serve --resolve-workers).")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. records.3.id_number.")
    message: str


class ErrorBody(BaseModel):
    error: str = Field(
        description="A short code: invalid_request, malformed_json, unauthenticated ..."
    )
    message: str
    fields: list[FieldError] = Field(default_factory=list)
