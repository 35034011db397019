from __future__ import annotations

from django import forms
from django.conf import settings


class QuestionForm(forms.Form):
    text = forms.CharField(
        label="Your question",
        widget=forms.Textarea(attrs={"rows": 8, "maxlength": settings.QUESTION_MAX_CHARS}),
        help_text=f"Up to {settings.QUESTION_MAX_CHARS:,} characters. Please don't include "
        "anything that identifies you or other people.",
        strip=False,
    )
    contact = forms.CharField(
        label="Contact (optional)", required=False, max_length=254, strip=False,
        help_text="Only a supervisor can see this. You can always read your reply with your "
        "tracking link instead.",
    )


class ReplyForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 16}), strip=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class AnnotationForm(forms.Form):
    RATING = [("", "—")] + [(str(i), str(i)) for i in range(1, 6)]
    helpfulness = forms.TypedChoiceField(choices=RATING, coerce=int, required=False,
                                         empty_value=None)
    relevance = forms.TypedChoiceField(choices=RATING, coerce=int, required=False,
                                       empty_value=None)
    empathy = forms.TypedChoiceField(choices=RATING, coerce=int, required=False,
                                     empty_value=None)
    safety = forms.TypedChoiceField(choices=RATING, coerce=int, required=False,
                                    empty_value=None)
    tags = forms.CharField(required=False, max_length=500,
                           help_text="Comma-separated, e.g. too-long, missed-risk, good-steps")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                           max_length=2000)
