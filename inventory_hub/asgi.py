import os

from django.core.asgi import get_asgi_application

from inventory_hub import var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")
var.prepare()
application = get_asgi_application()
