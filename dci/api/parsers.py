from panel.api.parsers import JSONParser


class AnyTypeJSONParser(JSONParser):
    """DCImanager's examples post JSON with curl's `-d` and no Content-Type, which curl sends
    as a form: DCImanager reads the body as JSON whatever its declared type, so does this."""

    media_type = "*/*"
