"""The webhooks surface: one route."""

from flask import Blueprint

from loyalty_plugin.web.errors import handle_errors
from loyalty_plugin.web.webhooks import views

blueprint = handle_errors(Blueprint("webhooks", __name__))
blueprint.add_url_rule("/webhooks", view_func=views.receive, methods=["POST"])
