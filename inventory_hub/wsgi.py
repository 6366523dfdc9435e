import os

from django.core.wsgi import get_wsgi_application

from foundation import var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")
var.prepare()
application = get_wsgi_application()
