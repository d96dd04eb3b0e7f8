"""The WSGI entry point for production servers: ``gunicorn 'loyalty_plugin.wsgi:app'``.

It is ``create_app()`` plus the embedded scheduler (``LOYALTY_SCHEDULER=embedded``, the
default), started in each worker on its first request. With a separate
``loyalty scheduler`` process, set ``LOYALTY_SCHEDULER=off`` for the web workers.
"""

from loyalty_plugin.app import create_app
from loyalty_plugin.jobs.scheduler import start_on_first_request

app = create_app()
start_on_first_request(app)
