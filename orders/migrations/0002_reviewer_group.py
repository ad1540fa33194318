"""The `Reviewer` group: may see orders and approve or reject held ones.

Permissions are normally created by a post_migrate signal, i.e. after this
migration has run on a fresh database, so we create them here first.
Idempotent (get_or_create, add) so re-running or a pre-existing group is fine."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Reviewer"
CODENAMES = ["review_order", "view_order", "change_order"]


def create_reviewer_group(apps, schema_editor):
    using = schema_editor.connection.alias if schema_editor else "default"
    # Do what Django's post_migrate does: the installed app's config (it has a
    # models module; a migration-state stub has none and would be skipped) with
    # the migration-state registry, so historical models are used.
    create_permissions(
        global_apps.get_app_config("orders"), verbosity=0, using=using, apps=apps
    )

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.using(using).filter(
        content_type__app_label="orders", codename__in=CODENAMES
    )
    missing = set(CODENAMES) - {p.codename for p in perms}
    if missing:
        raise RuntimeError(f"permissions not created: {sorted(missing)}")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    group.permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        # Reversing keeps the group: people may have been put in it since.
        migrations.RunPython(create_reviewer_group, migrations.RunPython.noop),
    ]
