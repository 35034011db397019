"""Services: every change to questions, drafts and reviews goes through here, one
module per domain. Reads live in `selectors`.

- `intake`: a client's question is stored, screened and queued.
- `drafting`: the worker's protocol (lease, batching, streaming, cancel, sweep).
- `review`: claims, take next, edits, the final-text check, approve, reject, escalate.
- `annotation`: the rubric and its revisions, blind second annotations, adjudication.
- `audit`: supervisors audit approved replies.
- `tokens`: API tokens.
- `checks`: validation shared by the domains.

`check_*` functions validate and raise; `do_*` functions change state inside a
transaction and queue side effects (tasks, pushes) on commit. Status and the fields that
belong to a state are written only by `states`.
"""
