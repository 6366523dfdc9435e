import os

from django.core.asgi import get_asgi_application

from foundation import var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")
var.prepare()
application = get_asgi_application()
