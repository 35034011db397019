"""The HTML forms. Their limits come from `limits`, which the services enforce."""

from __future__ import annotations

from django import forms

from psyconsole.questions import limits


class QuestionForm(forms.Form):
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


class ReplyForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 16}), strip=False,
                           max_length=limits.REPLY_MAX_CHARS)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}),
                             max_length=limits.REASON_MAX_CHARS)


class AnnotationForm(forms.Form):
    RATING = [("", "—")] + [(str(i), str(i)) for i in range(limits.RATING_RANGE[0],
                                                           limits.RATING_RANGE[1] + 1)]
    helpfulness = forms.TypedChoiceField(choices=RATING, coerce=int, required=False,
                                         empty_value=None)
    relevance = forms.TypedChoiceField(choices=RATING, coerce=int, required=False,
                                       empty_value=None)
    empathy = forms.TypedChoiceField(choices=RATING, coerce=int, required=False,
                                     empty_value=None)
    safety = forms.TypedChoiceField(choices=RATING, coerce=int, required=False,
                                    empty_value=None)
    tags = forms.CharField(required=False, max_length=limits.TAGS_FIELD_MAX_CHARS,
                           help_text="Comma-separated, e.g. too-long, missed-risk, good-steps")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                           max_length=limits.REASON_MAX_CHARS)
