"""The queue of grading on submit as a page behind the hub's login, for instructors only:
/services/grade-on-submit/ (hub/grade_on_submit.py serves it beside its loop).

JupyterHub's own OAuth for services (jupyterhub.services.auth.HubOAuthenticated): whoever is not
logged in goes to the hub's login; a logged-in user without the scope `access:services!service=
grade-on-submit`, which the hub's configuration gives the `instructors` group alone
(hub/jupyterhub_config.py), gets 403. The page is `make hub-queue`'s text, escaped, and nothing
else: no script, no form.
"""
import asyncio
import html
import os
import threading
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import httpserver, web

import submit_queue   # beside this script


class QueuePage(HubOAuthenticated, web.RequestHandler):
    def initialize(self, folder):
        self.folder = folder

    @web.authenticated
    def get(self):
        text = submit_queue.describe(submit_queue.Queue(self.folder))
        self.set_header("Content-Security-Policy", "default-src 'none'")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write("<!DOCTYPE html><html><head><title>Grading on submit</title></head><body>"
                   f"<h1>Grading on submit</h1><pre>{html.escape(text)}</pre></body></html>")


def serve(folder):
    """Serve the page on the service's own address (JUPYTERHUB_SERVICE_URL), in a thread of its own."""
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    address = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app = web.Application([(prefix, QueuePage, {"folder": folder}),
                           (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler)],
                          cookie_secret=os.urandom(32))

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        httpserver.HTTPServer(app).listen(address.port, address.hostname)
        loop.run_forever()

    threading.Thread(target=run, name="queue-page", daemon=True).start()
