from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("writer", "0004_content_edited_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="content",
            name="linked_ids",
            field=models.JSONField(blank=True, default=None, null=True),
        ),
    ]
