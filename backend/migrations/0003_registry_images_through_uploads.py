"""Person.photo and Licence.scan go through the shared upload pipeline (backend.uploads).

They were ImageFields saved under people/ and licences/ as uploaded. They become the
pipeline's stored paths (uploads/ab/<sha256>.<ext>) with a thumbnail next to each. Files
already stored are re-run through the pipeline (checked, turned upright, GPS removed,
re-encoded, stored by hash); a file that is missing or that the pipeline refuses keeps its
old path (nothing is lost; it has no thumbnail) and is named in the migration's output. The
old files are left where they are: audit-trail entries name them.
"""

import re

from django.db import migrations, models

STORED = re.compile(r"uploads/[0-9a-f]{2}/[0-9a-f]{64}\.(jpg|png|webp)")


def through_the_pipeline(apps, schema_editor):
    from django.core.files.storage import default_storage

    from backend.uploads import UploadRefused, prepare_image

    kept = []
    for model, field in (("Person", "photo"), ("Licence", "scan")):
        Model = apps.get_model("backend", model)
        for row in Model.objects.exclude(**{field: ""}).only("pk", field).iterator():
            old = getattr(row, field)
            if STORED.fullmatch(old):
                continue
            try:
                with default_storage.open(old, "rb") as file:
                    stored = prepare_image(file).store()
            except (OSError, UploadRefused) as exc:
                kept.append(f"{model} {row.pk} {field}={old}: {exc}")
                continue
            Model.objects.filter(pk=row.pk).update(**{field: stored.path, f"{field}_thumbnail": stored.thumbnail_path})
    if kept:
        print(f"\n  kept as uploaded (not through the pipeline): {len(kept)}")
        for line in kept:
            print(f"    {line}")


class Migration(migrations.Migration):

    dependencies = [
        ("backend", "0002_idempotencykey"),
    ]

    operations = [
        migrations.AddField(
            model_name="licence",
            name="scan_thumbnail",
            field=models.CharField(blank=True, editable=False, max_length=200, verbose_name="scan thumbnail"),
        ),
        migrations.AddField(
            model_name="person",
            name="photo_thumbnail",
            field=models.CharField(blank=True, editable=False, max_length=200, verbose_name="photo thumbnail"),
        ),
        migrations.AlterField(
            model_name="licence",
            name="scan",
            field=models.CharField(blank=True, editable=False, max_length=200, verbose_name="scan"),
        ),
        migrations.AlterField(
            model_name="person",
            name="photo",
            field=models.CharField(blank=True, editable=False, max_length=200, verbose_name="photo"),
        ),
        # Reversing keeps the pipeline's paths: they are valid ImageField names too.
        migrations.RunPython(through_the_pipeline, migrations.RunPython.noop),
    ]
