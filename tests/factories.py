import factory
from django.contrib.auth import get_user_model

from ledger.models import Location, Sku


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"merchant{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True

    @factory.post_generation
    def password(user, create, extracted, **kwargs):
        user.set_password(extracted or "correct horse battery")
        if create:
            user.save(update_fields=["password"])


class SkuFactory(factory.django.DjangoModelFactory):
    """Built with the model (no channels to fan out to in most tests); use
    `ledger.services.sku_create` where listings must be matched."""

    class Meta:
        model = Sku

    code = factory.Sequence(lambda n: f"SKU-{n:05d}")
    title = factory.Sequence(lambda n: f"Product {n}")


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    code = factory.Sequence(lambda n: f"loc-{n}")
    name = factory.Sequence(lambda n: f"Store {n}")
    priority = factory.Sequence(lambda n: 10 + n)


def role_user(role: str | None, **fields):
    """A user in the role's group (None: in no group at all). The groups are made by a
    migration; a test that flushed the database gets them back here."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    from foundation.roles import sync_role_groups

    user = UserFactory(**fields)
    if role is not None:
        if not Group.objects.filter(name=role).exists():
            sync_role_groups(apps)
        user.groups.add(Group.objects.get(name=role))
    return user
