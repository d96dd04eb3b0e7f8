"""The e-mail surface: one route, GET to confirm and POST (also RFC 8058 one-click) to act."""

from flask import Blueprint

from loyalty_plugin.web.email import views

blueprint = Blueprint("email", __name__, template_folder="templates")
blueprint.add_url_rule(
    "/email/unsubscribe/<token>", view_func=views.unsubscribe, methods=["GET", "POST"]
)
