"""A browser page that may reach only the server on 127.0.0.1, and what it did wrong there."""

from urllib.parse import urlsplit


def watched(page, *, http_errors=True):
    """Abort and record every request to another host; record console errors, page errors and (``http_errors``) failed or refused requests.

    Returns the two lists, (outside URLs, errors), which the page fills as it runs.
    """
    outside, errors = [], []

    def only_local(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    if http_errors:
        page.on("requestfailed", lambda failed: errors.append(f"{failed.url}: {failed.failure}"))
        page.on("response", lambda response: response.status >= 400 and errors.append(f"{response.url}: {response.status}"))
    return outside, errors
