"""The Cards screen: the merchant's loyalty cards, making them (managers), giving them out.

Generating, importing and the printing CSV need a manager; looking a card up, assigning,
blocking and replacing one is the desk's daily work and needs the staff role. Every change
is one service call of :mod:`loyalty_plugin.services.cards`, audited there.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, abort, redirect, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from loyalty_plugin.domain.cards import CHECK_DIGITS, MAX_BATCH, NumberScheme
from loyalty_plugin.domain.errors import LoyaltyError, NotFound, ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import CardBatch, CardStatus, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.cards import batches, holders, listing
from loyalty_plugin.services.cards.batches import CardImportRefused
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors

#: The check digit choices of the forms, best first.
ALGORITHMS = [
    ("luhn", "Luhn"),
    ("verhoeff", "Verhoeff"),
    ("damm", "Damm"),
    ("mod_11_10", "ISO 7064 Mod 11,10"),
    ("none", "None"),
]
assert [a for a, _ in ALGORITHMS] == list(CHECK_DIGITS)  # noqa: S101 - one list, checked
#: Largest cards file the import form takes.
MAX_FILE_BYTES = 4 * 1024 * 1024


def cards_list(merchant_id: str) -> ResponseReturnValue:
    """Every card, filtered by status, batch and number, a page at a time."""
    return _list_page(merchant_id)


def cards_generate(merchant_id: str) -> ResponseReturnValue:
    """Make a batch of new cards from a number scheme (once per form key)."""
    form = request.form
    actor = access.current().actor
    try:
        batch = run_in_transaction(
            get_session(),
            lambda s: batches.generate_cards(
                s,
                merchant_id=merchant_id,
                scheme=_scheme(form),
                count=_count(form.get("count", "")),
                actor=actor,
                now=utcnow(),
                request_key=form.get("form_key") or None,
            ),
        )
    except LoyaltyError as error:
        return _list_page(merchant_id, generate=form, errors=field_errors(error), status=422)
    access.flash(f"{batch.count} cards made in batch {batch.id}; download them for printing.")
    return redirect(url_for("admin.cards_list", merchant_id=merchant_id, batch=batch.id), 303)


def cards_import(merchant_id: str) -> ResponseReturnValue:
    """Make cards of a printer's file of numbers: all of them, or none and every bad line."""
    form = request.form
    actor = access.current().actor
    try:
        lines = _uploaded_lines()
        scheme = _scheme(form) if form.get("length", "").strip() else None
        batch = run_in_transaction(
            get_session(),
            lambda s: batches.import_cards(
                s,
                merchant_id=merchant_id,
                lines=lines,
                scheme=scheme,
                actor=actor,
                now=utcnow(),
                request_key=form.get("form_key") or None,
            ),
        )
    except CardImportRefused as refused:
        errors = {"file": refused.message}
        lines_wrong = [str(e) for e in refused.errors[: batches.MAX_ERRORS_SHOWN]]
        return _list_page(
            merchant_id, upload=form, errors=errors, import_errors=lines_wrong, status=422
        )
    except LoyaltyError as error:
        return _list_page(merchant_id, upload=form, errors=field_errors(error), status=422)
    access.flash(f"{batch.count} cards imported in batch {batch.id}.")
    return redirect(url_for("admin.cards_list", merchant_id=merchant_id, batch=batch.id), 303)


def batch_csv(merchant_id: str, batch_id: int) -> ResponseReturnValue:
    """A batch's cards as CSV, streamed, for the card printer."""
    try:
        lines = batches.batch_csv(get_session(), merchant_id=merchant_id, batch_id=batch_id)
    except LoyaltyError:
        abort(404)
    response = Response(stream_with_context(lines), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="cards-{batch_id}.csv"'
    return response


def card_page(merchant_id: str, number: str) -> ResponseReturnValue:
    """One card: who holds it, its batch, what replaced it; assign, block or replace it."""
    return _card_page(merchant_id, number)


def card_assign(merchant_id: str, number: str) -> ResponseReturnValue:
    """Give the card to a customer (their id in the CRM)."""
    customer_id = request.form.get("customer_id", "").strip()
    return _change(
        merchant_id,
        number,
        lambda s, actor: holders.assign_card(
            s,
            merchant_id=merchant_id,
            number=number,
            customer_id=_required(customer_id, "customer_id"),
            actor=actor,
            now=utcnow(),
        ),
        done=f"Card {number} is now customer {customer_id}'s.",
    )


def card_block(merchant_id: str, number: str) -> ResponseReturnValue:
    """Stop the card: its number no longer earns or finds its holder."""
    return _change(
        merchant_id,
        number,
        lambda s, actor: holders.block_card(
            s,
            merchant_id=merchant_id,
            number=number,
            reason=request.form.get("reason", ""),
            actor=actor,
            now=utcnow(),
        ),
        done=f"Card {number} is blocked.",
    )


def card_replace(merchant_id: str, number: str) -> ResponseReturnValue:
    """Replace a lost card: the customer gets the new one, with the same points."""
    new_number = request.form.get("new_number", "")
    return _change(
        merchant_id,
        number,
        lambda s, actor: holders.replace_card(
            s,
            merchant_id=merchant_id,
            number=number,
            new_number=_required(new_number, "new_number"),
            reason=request.form.get("reason", "") or "lost",
            actor=actor,
            now=utcnow(),
        ),
        done=f"Card {number} is replaced by {new_number.strip()}; the points stay.",
    )


# -- helpers ---------------------------------------------------------------------------------


def _change(
    merchant_id: str,
    number: str,
    work: Callable[[Session, Any], Any],
    *,
    done: str,
) -> ResponseReturnValue:
    actor = access.current().actor
    try:
        run_in_transaction(get_session(), lambda s: work(s, actor))
    except NotFound as error:
        if error.field == "number":
            abort(404)
        return _card_page(
            merchant_id, number, values=request.form, errors=field_errors(error), status=422
        )
    except LoyaltyError as error:
        errors = field_errors(error)
        return _card_page(merchant_id, number, values=request.form, errors=errors, status=422)
    access.flash(done)
    return redirect(url_for("admin.card_page", merchant_id=merchant_id, number=number), 303)


def _list_page(
    merchant_id: str,
    *,
    generate: Any = None,
    upload: Any = None,
    errors: dict[str, str] | None = None,
    import_errors: list[str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    args = request.args
    filter_errors: dict[str, str] = {}
    try:
        where = listing.parse_filter(
            status=args.get("status"), batch=args.get("batch"), number=args.get("number")
        )
        page = listing.list_cards(
            session, merchant_id=merchant_id, where=where, page=_page_number(args.get("page"))
        )
    except ValidationError as error:
        filter_errors = field_errors(error)
        where = listing.CardFilter()
        page = listing.list_cards(session, merchant_id=merchant_id, where=where)
        status = 422 if status == 200 else status
    recent = batches.list_batches(session, merchant_id, limit=10)
    return render_template(
        "admin/cards/list.html",
        page_title="Cards",
        page=page,
        where=where,
        args=args,
        filter_errors=filter_errors,
        batches=recent,
        batch_choices=_batch_choices(recent, where.batch_id),
        statuses=[s.value for s in CardStatus],
        generate=generate or {},
        upload=upload or {},
        errors=errors or {},
        import_errors=import_errors or [],
        algorithms=ALGORITHMS,
        may_make=access.current().may(StaffRole.MANAGER),
        max_batch=MAX_BATCH,
    ), status


def _card_page(
    merchant_id: str,
    number: str,
    *,
    values: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    try:
        story = listing.card_story(get_session(), merchant_id, number)
    except LoyaltyError:
        abort(404)
    return render_template(
        "admin/cards/card.html",
        page_title=f"Card {story.card.number}",
        story=story,
        may_audit=access.current().may(StaffRole.MANAGER),
        values=values or {},
        errors=errors or {},
    ), status


def _batch_choices(recent: list[CardBatch], chosen: int | None) -> list[tuple[str, str]]:
    choices = [(str(b.id), f"{b.id} ({b.count} {b.source.value})") for b in recent]
    if chosen is not None and all(b.id != chosen for b in recent):
        choices.append((str(chosen), str(chosen)))
    return choices


def _scheme(form: Any) -> NumberScheme:
    return NumberScheme(
        prefix=form.get("prefix", "").strip(),
        length=_whole(form.get("length", ""), "length"),
        check_digit=form.get("check_digit", "luhn"),
    )


def _count(text: str) -> int:
    return _whole(text, "count")


def _whole(text: str, field: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValidationError("must be a whole number", field=field)
    return int(text)


def _required(text: str, field: str) -> str:
    if not text.strip():
        raise ValidationError("is required", field=field)
    return text.strip()


def _page_number(text: str | None) -> int:
    if text is None or text == "":
        return 1
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise ValidationError("must be a page number", field="page")
    return int(text)


def _uploaded_lines() -> Iterator[str] | list[str]:
    """The uploaded file's lines (UTF-8, a BOM dropped); a missing or huge file is refused."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("choose the CSV file of card numbers", field="file")
    data = upload.stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(f"the file is over {MAX_FILE_BYTES // 1_048_576} MiB", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("the file is not UTF-8 text", field="file") from None
    return io.StringIO(text, newline="").readlines()
