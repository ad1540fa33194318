"""Ops roles (Manager, Reviewer, Warehouse operator, Read-only) as groups with
least-privilege permissions. Permissions are created post-migrate, i.e. after
this runs on a fresh database, so they are created here first."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

from reports.roles import PROJECT_APPS, sync_roles


def create_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    for label in PROJECT_APPS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    sync_roles(apps, using=using)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0003_replenishment"),
        ("orders", "0005_index_shipped_delivered"),
        ("payments", "0001_initial"),
        ("fulfillment", "0001_initial"),
        ("returns", "0001_initial"),
        ("notifications", "0001_initial"),
        ("operations", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
