from django.db import migrations, models


def sections_of_placed_pictures(apps, schema_editor):
    """Pictures made before they knew their section keep the place they had: the n-th
    in-article picture of an article, after its n-th heading."""
    from cascade.writer.html import sections

    Image = apps.get_model("writer", "Image")
    Content = apps.get_model("writer", "Content")
    with_pictures = Image.objects.filter(kind="in_article").values_list("content_id", flat=True)
    for content in Content.objects.filter(pk__in=with_pictures.distinct()).only("html").iterator():
        headings = [heading for heading, _ in sections(content.html)]
        pictures = Image.objects.filter(content_id=content.pk, kind="in_article").order_by(
            "position"
        )
        for n, image in enumerate(pictures):
            if n < len(headings):
                Image.objects.filter(pk=image.pk).update(section=headings[n][:300])


class Migration(migrations.Migration):
    dependencies = [
        ("writer", "0002_review_publishing_and_private_media"),
    ]

    operations = [
        migrations.AddField(
            model_name="image",
            name="section",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.RunPython(sections_of_placed_pictures, migrations.RunPython.noop),
    ]
