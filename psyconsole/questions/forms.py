"""The HTML forms. Their limits come from `limits`, which the services enforce."""

from __future__ import annotations

from typing import Any

from django import forms

from psyconsole.questions import limits, rubric


def text_error(value: str) -> str | None:
    """Why typed text cannot be kept, or None. Django decodes a form's bytes with
    replacement, so what a browser or script sends for a lone surrogate, or any byte that
    is not UTF-8, arrives as U+FFFD."""
    if "\ufffd" in value or limits.has_lone_surrogate(value):
        return ("This contains characters that are not valid UTF-8 (an invalid byte or a "
                "lone surrogate). Please retype them.")
    return None


class TextForm(forms.Form):
    """The shared clean of every form that takes typed text: text that is not valid
    Unicode is a form error on its field, never a server error further on."""

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        for name, value in list(cleaned.items()):
            if isinstance(value, str) and (error := text_error(value)):
                self.add_error(name, error)
        return cleaned


class QuestionForm(TextForm):
    text = forms.CharField(
        label="Your question",
        widget=forms.Textarea(attrs={"rows": 8, "maxlength": limits.QUESTION_MAX_CHARS}),
        help_text=f"Up to {limits.QUESTION_MAX_CHARS:,} characters. Please don't include "
        "anything that identifies you or other people.",
        strip=False,
    )
    contact = forms.CharField(
        label="Contact (optional)", required=False, max_length=limits.CONTACT_MAX_CHARS,
        strip=False,
        help_text="Only a supervisor can see this. You can always read your reply with your "
        "tracking link instead.",
    )
    human_only = forms.BooleanField(
        label="I would like my reply written by a counsellor, without AI drafting",
        required=False,
        help_text="Then no AI model drafts your reply, and your question is never used to "
        "train the model that drafts replies. It is still checked at once for signs that "
        "you need urgent help.",
    )


class ReplyForm(TextForm):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 16}), strip=False,
                           max_length=limits.REPLY_MAX_CHARS)


class ReasonForm(TextForm):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}),
                             max_length=limits.REASON_MAX_CHARS)


def _yes_no(value: str) -> bool:
    return value == "yes"


class AnnotationForm(TextForm):
    """The rubric (`rubric.py`): one radio group per dimension, in the rubric's order, each
    with a "not rated" choice. console.js adds the keyboard shortcuts."""

    RATING = [("", "not rated")] + [(str(i), str(i)) for i in range(
        limits.RATING_RANGE[0], limits.RATING_RANGE[1] + 1)]
    YES_NO = [("", "not rated"), ("yes", "yes"), ("no", "no")]

    tags = forms.CharField(required=False, max_length=limits.TAGS_FIELD_MAX_CHARS,
                           help_text="Comma-separated, e.g. too-long, missed-risk, good-steps")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                           max_length=limits.REASON_MAX_CHARS)

    def __init__(self, *args: Any, annotation: Any = None, **kwargs: Any) -> None:
        if annotation is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(annotation)
        super().__init__(*args, **kwargs)
        dimensions = {}
        for d in rubric.DIMENSIONS:
            nominal = d.level == rubric.NOMINAL
            dimensions[d.name] = forms.TypedChoiceField(
                label=d.label, help_text=d.scale, required=False, empty_value=None,
                choices=self.YES_NO if nominal else self.RATING,
                coerce=_yes_no if nominal else int, widget=forms.RadioSelect)
            dimensions[d.name].level = d.level  # for the template's data-level
        # The dimensions first, then tags and note.
        self.fields = {**dimensions, **self.fields}

    @staticmethod
    def initial_from(annotation: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {"tags": ", ".join(annotation.tags), "note": annotation.note}
        for name in rubric.NAMES:
            value = getattr(annotation, name)
            if name in rubric.NOMINAL_NAMES:
                initial[name] = "" if value is None else ("yes" if value else "no")
            else:
                initial[name] = "" if value is None else str(value)
        return initial

    def dimension_fields(self) -> list[Any]:
        return [self[name] for name in rubric.NAMES]

    def rubric_data(self) -> dict[str, Any]:
        """The cleaned values as do_annotate takes them."""
        data = dict(self.cleaned_data)
        data["tags"] = [t.strip() for t in data.pop("tags", "").split(",") if t.strip()]
        return data
