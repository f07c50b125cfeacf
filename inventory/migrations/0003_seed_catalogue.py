"""The five termination drugs named in the county documents. Approval numbers, product
codes and GTINs are left blank: fill them from the packs in the admin (they are not
guessed here)."""

from django.db import migrations

PRODUCTS = [
    dict(generic_name="米非司酮片", generic_name_en="mifepristone tablets", brand_names=["含珠停", "息隐"],
         strength="25 mg", form="tablet", pack_size=6, counting_unit="片"),
    dict(generic_name="米非司酮片", generic_name_en="mifepristone tablets", brand_names=["含珠停", "息隐"],
         strength="200 mg", form="tablet", pack_size=1, counting_unit="片"),
    dict(generic_name="米索前列醇片", generic_name_en="misoprostol tablets", brand_names=["喜客馈"],
         strength="200 µg", form="tablet", pack_size=3, counting_unit="片"),
    dict(generic_name="乳酸依沙吖啶注射液", generic_name_en="ethacridine lactate injection",
         brand_names=["利凡诺", "雷夫诺尔"], strength="2 ml:50 mg", form="injection", pack_size=10,
         counting_unit="支"),
    dict(generic_name="缩宫素注射液", generic_name_en="oxytocin injection", brand_names=[],
         strength="1 ml:10 IU", form="injection", pack_size=10, counting_unit="支"),
]


def seed(apps, schema_editor):
    DrugProduct = apps.get_model("inventory", "DrugProduct")
    for fields in PRODUCTS:
        DrugProduct.objects.get_or_create(
            generic_name=fields["generic_name"], strength=fields["strength"], form=fields["form"],
            manufacturer="", defaults=fields,
        )


class Migration(migrations.Migration):
    dependencies = [("inventory", "0002_append_only")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
