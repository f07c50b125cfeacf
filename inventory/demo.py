"""Demo data for the drug chain, called by `manage.py seed_demo` with the registry's `Demo`.

Six months of history, written through the same services as the API (so every movement is
on the ledger and the audit trail): wholesaler intakes, about 50 shipments, about 2,000
dispenses. Patterns worth finding: an unusual spike at 集兵镇中心卫生院 in the fourth
month, a refused shipment to a retail pharmacy (and one to the hospital whose approval
lapsed), a receipt shortage, a rejected shipment, and a nearly expired batch.

For scanning: the catalogue gets demo GTINs and traceability product codes (`DEMO_CODES`;
the migration that seeds the catalogue leaves them blank, to be filled from real packs),
and two batches carry serialised packs registered at intake (`DEMO_PACKS`): 20-digit
traceability codes on the 200 mg mifepristone lot, GS1 serials on the first misoprostol
lot. A few of those packs are dispensed, so scanning one again shows "already dispensed";
the rest are on the shelves.

Idempotent: a second run finds the demo intakes and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from django.db import transaction
from django.utils import timezone
from stdnum.cn import ric

from audits.services import audit_record, snapshot
from backend.errors import DomainError
from inventory import services
from inventory.models import Batch, DrugProduct, Intake, PackCode, StockPosition

MARKER = "DEMO-"
SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
GIVEN = ["丽", "芳", "敏", "静", "燕", "艳", "娟", "霞", "红", "英", "玲", "梅", "兰", "萍", "琴", "莉", "婷", "雪",
         "慧", "晶", "春", "秋", "小红", "小燕", "海燕", "丽娟", "美玲", "玉兰", "桂英", "秀英"]
VILLAGES = ["西渡镇石市村", "西渡镇梅花村", "集兵镇集兵村", "集兵镇新塘村", "杉桥镇杉桥村", "井头镇井头村",
            "演陂镇演陂村", "台源镇台源村", "曲兰镇曲兰村", "金溪镇金溪村"]
WORK_UNITS = ["衡阳县某服装厂", "西渡镇某超市", "县城某餐馆", "务农", "务工（广东东莞）", "个体经营"]

CATALOGUE = {  # key -> (generic name, strength) seeded by migration 0003
    "mife25": ("米非司酮片", "25 mg"),
    "mife200": ("米非司酮片", "200 mg"),
    "miso": ("米索前列醇片", "200 µg"),
    "ethacridine": ("乳酸依沙吖啶注射液", "2 ml:50 mg"),
    "oxytocin": ("缩宫素注射液", "1 ml:10 IU"),
}


# DEMO VALUES, NOT REAL CODES. GTIN-13s under the made-up company prefix 6999000 (in GS1
# China's 690-699 range, check digits valid), stored as GTIN-14; traceability product codes
# (the first 7 digits of a 20-digit 药品追溯码) from the made-up range 8699101-8699105. Real
# codes come from the packs, entered in the admin. Only blank fields are filled.
DEMO_CODES = {  # key -> (GTIN-14, traceability product code)
    "mife25": ("06999000000018", "8699101"),
    "mife200": ("06999000000025", "8699102"),
    "miso": ("06999000000032", "8699103"),
    "ethacridine": ("06999000000049", "8699104"),
    "oxytocin": ("06999000000056", "8699105"),
}
# Serialised packs registered at the first intake of a batch: key -> (batch index, kind,
# how many packs, how many of them the demo dispenses).
DEMO_PACKS = {
    "mife200": (0, PackCode.Kind.TRACEABILITY, 30, 4),
    "miso": (0, PackCode.Kind.GS1_SERIAL, 30, 3),
}


def demo_pack_codes(product: DrugProduct, batch: Batch, kind: str, count: int) -> list[str]:
    """Demo pack codes for `batch`: 20-digit traceability codes (8 + ..., the product's code
    first) or GS1 SGTINs ("01<GTIN>21<serial>", as the scan endpoint looks packs up)."""
    if kind == PackCode.Kind.TRACEABILITY:
        if not product.traceability_product_code:
            return []
        return [f"{product.traceability_product_code}{batch.pk % 10000:04d}{n:09d}" for n in range(1, count + 1)]
    if not product.gtins:
        return []
    return [f"01{product.gtins[0]}21SN{batch.pk:04d}{n:06d}" for n in range(1, count + 1)]


def _fill_demo_codes(products: dict[str, DrugProduct]) -> None:
    """Give the catalogue its demo GTINs and product codes where they are blank (idempotent)."""
    for key, product in products.items():
        gtin, code = DEMO_CODES[key]
        before = snapshot(product)
        if not product.gtins:
            product.gtins = [gtin]
        if not product.traceability_product_code and not DrugProduct.objects.filter(
                traceability_product_code=code).exists():
            product.traceability_product_code = code
        if snapshot(product) != before:
            product.full_clean()
            product.save(update_fields=["gtins", "traceability_product_code"])
            audit_record(action="update", instance=product, before=before, transition="demo_codes")


def _products() -> dict[str, DrugProduct]:
    from inventory.migrations import __path__ as _unused  # noqa: F401 - the catalogue comes from migration 0003

    out = {}
    for key, (name, strength) in CATALOGUE.items():
        product = DrugProduct.objects.filter(generic_name=name, strength=strength).order_by("id").first()
        if product is None:  # a flushed database: recreate the catalogue row
            import importlib

            seed = importlib.import_module("inventory.migrations.0003_seed_catalogue")
            fields = next(p for p in seed.PRODUCTS if (p["generic_name"], p["strength"]) == (name, strength))
            product = DrugProduct.objects.create(**fields)
        out[key] = product
    return out


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


class _Chain:
    """Runs the services and mirrors the on-hand stock so choices never hit a refusal."""

    def __init__(self, demo, rng: random.Random):
        self.demo, self.rng = demo, rng
        self.stock: dict[tuple[int, int], int] = defaultdict(int)  # (holder id, batch id) -> on hand
        self.counts: dict[str, int] = defaultdict(int)
        self.pending: dict[int, list[dict]] = defaultdict(list)
        self.supplier = {demo.approved[0].pk: demo.wholesalers[0], demo.approved[1].pk: demo.wholesalers[0],
                         demo.approved[2].pk: demo.wholesalers[1]}
        self.pack_codes: dict[int, list[str]] = {}  # batch id -> codes to register at its first intake
        self.packs_to_dispense: dict[int, list[PackCode]] = {}  # batch id -> packs the demo dispenses

    def clerk(self, wholesaler):
        return self.demo.wholesaler_users[wholesaler.pk][0]

    def pharmacist(self, institution):
        return self.demo.pharmacist_users[institution.pk][0]

    def intake(self, wholesaler, batch, quantity, when, invoice):
        services.intake_record(actor=self.clerk(wholesaler), batch=batch, quantity=quantity, invoice_number=invoice,
                               supplier_name=batch.product.manufacturer or "华润紫竹药业有限公司", received_at=when,
                               pack_codes=self.pack_codes.pop(batch.pk, ()))
        self.stock[(wholesaler.pk, batch.pk)] += quantity
        self.counts["intakes"] += 1

    def fefo(self, holder, batches, quantity, on):
        for batch in sorted(batches, key=lambda b: b.expiry_date):
            if batch.expiry_date >= on and self.stock[(holder.pk, batch.pk)] >= quantity:
                return batch
        return None

    def ship(self, wholesaler, institution, wants: list[tuple[list[Batch], int]], when, *, shortage=0,
             reject=False):
        lines = []
        for batches, quantity in wants:
            batch = self.fefo(wholesaler, batches, quantity, when.date())
            if batch is not None:
                lines.append({"batch": batch, "quantity": quantity})
        if not lines:
            return None
        shipment = services.shipment_create(actor=self.clerk(wholesaler), recipient=institution, lines=lines,
                                            reference=f"{MARKER}DN-{when:%Y%m%d}-{institution.pk}")
        services.shipment_dispatch(actor=self.clerk(wholesaler), shipment=shipment, occurred_at=when)
        for line in lines:
            self.stock[(wholesaler.pk, line["batch"].pk)] -= line["quantity"]
        self.counts["shipments"] += 1
        arrival = when + dt.timedelta(hours=20)
        if reject:
            services.shipment_reject(actor=self.pharmacist(institution), shipment=shipment, occurred_at=arrival,
                                     reason="未按采购计划发货，拒收")
            for line in lines:
                self.stock[(wholesaler.pk, line["batch"].pk)] += line["quantity"]
            return shipment
        received = []
        for i, line in enumerate(shipment.lines.all()):
            got = line.quantity - (shortage if i == 0 else 0)
            received.append({"line": line.pk, "received_quantity": got,
                             "note": "外包装破损，少两片" if got != line.quantity else ""})
            self.stock[(institution.pk, line.batch_id)] += got
        services.shipment_receive(actor=self.pharmacist(institution), shipment=shipment, lines=received,
                                  occurred_at=arrival)
        return shipment

    def refused(self, wholesaler, recipient, batches, quantity, when):
        batch = self.fefo(wholesaler, batches, quantity, when.date())
        shipment = services.shipment_create(actor=self.clerk(wholesaler), recipient=recipient,
                                            lines=[{"batch": batch, "quantity": quantity}],
                                            reference=f"{MARKER}DN-{when:%Y%m%d}-{recipient.pk}")
        try:
            services.shipment_dispatch(actor=self.clerk(wholesaler), shipment=shipment, occurred_at=when)
        except DomainError:
            self.counts["refused shipments"] += 1

    def patient(self, day):
        rng = self.rng
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        age = rng.choices([rng.randint(17, 22), rng.randint(23, 34), rng.randint(35, 45)], [2, 6, 2])[0]
        rid = ""
        if rng.random() < 0.7 and day.year - age >= 1985:  # 衡阳县 430421 dates from 1983
            birth = dt.date(day.year - age, rng.randint(1, 12), rng.randint(1, 28))
            body = f"430421{birth:%Y%m%d}{rng.randint(0, 499) * 2:03d}"
            rid = body + ric.calc_check_digit(body + "0")
        children = rng.choices([0, 1, 2, 3], [3, 4, 3, 1])[0]
        return {
            "patient_name": name, "patient_age": age, "patient_resident_id": rid,
            "patient_address": rng.choice(VILLAGES) + f"{rng.randint(1, 12)}组" + (
                "；" + rng.choice(WORK_UNITS) if rng.random() < 0.5 else ""),
            "birth_permit": rng.choices(["holds", "none", "not_required", "unknown"], [3, 3, 3, 1])[0],
            "children_count": children,
        }

    def dispense(self, institution, batches, quantity, when, *, weeks, dose, physician, **extra):
        batch = self.fefo(institution, batches, quantity, when.date())
        if batch is None:
            self.counts["dispenses skipped (no stock)"] += 1
            return None
        patient = extra.pop("patient")
        packs = self.packs_to_dispense.get(batch.pk)
        if packs and quantity == batch.product.pack_size:  # a whole pack: its code is scanned
            extra["pack_code"] = packs.pop(0)
            self.counts["dispenses of serialised packs"] += 1
        self.pending[institution.pk].append(dict(
            batch=batch, quantity=quantity, dose=dose,
            prescription_number=f"CF{when:%Y%m%d%H%M}{institution.pk:02d}{self.rng.randint(0, 99):02d}",
            physician=physician, pregnancy_status="宫内早孕" if weeks < 14 else "中期妊娠",
            gestational_weeks=weeks, occurred_at=when, **patient, **extra,
        ))
        self.stock[(institution.pk, batch.pk)] -= quantity
        return batch

    def flush(self):
        """Enter the week's register pages (one ledger posting per institution)."""
        for institution in self.demo.approved:
            entries = self.pending.pop(institution.pk, [])
            if not entries:
                continue
            try:
                services.dispense_record_many(actor=self.pharmacist(institution), entries=entries)
            except DomainError as exc:
                self.counts[f"register pages refused ({exc.code})"] += 1
            else:
                self.counts["dispenses"] += len(entries)


def seed_drug_chain(demo) -> dict[str, int]:
    """Add six months of drug-chain history to the demo county (idempotent)."""
    with transaction.atomic():
        _fill_demo_codes(_products())  # also for a demo seeded before the catalogue had codes
    if Intake.objects.filter(invoice_number__startswith=MARKER).exists():
        return {}
    with transaction.atomic():
        return _seed(demo)


def _seed(demo) -> dict[str, int]:
    rng = random.Random(20261122)
    today = demo.today
    start = today - dt.timedelta(days=182)
    products = _products()
    w1, w2 = demo.wholesalers
    h1, h2, h3 = demo.approved

    def batch(key, lot, expiry: dt.date, made: dt.date):
        return services.batch_get_or_create(product=products[key], lot_number=lot,
                                            expiry_printed=expiry.strftime("%y%m") + "00", manufactured_on=made)

    def month_end(d: dt.date) -> dt.date:
        nxt = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return nxt - dt.timedelta(days=1)

    y = today.year
    nearly = month_end(today + dt.timedelta(days=20))  # printed YYMM00: the last day of that month
    batches = {
        "mife25": [batch("mife25", f"{y - 1}0312", month_end(today + dt.timedelta(days=400)), start - dt.timedelta(days=300)),
                   batch("mife25", f"{y - 2}1108", nearly, start - dt.timedelta(days=700)),
                   batch("mife25", f"{y}0105", month_end(today + dt.timedelta(days=600)), start + dt.timedelta(days=40))],
        "mife200": [batch("mife200", f"M{y - 1}0601", month_end(today + dt.timedelta(days=500)), start - dt.timedelta(days=200))],
        "miso": [batch("miso", f"XK{y - 1}0420", month_end(today + dt.timedelta(days=300)), start - dt.timedelta(days=250)),
                 batch("miso", f"XK{y}0210", month_end(today + dt.timedelta(days=700)), start + dt.timedelta(days=60))],
        "ethacridine": [batch("ethacridine", f"LFN{y - 1}0909", month_end(today + dt.timedelta(days=450)),
                              start - dt.timedelta(days=100))],
        "oxytocin": [batch("oxytocin", f"SGS{y - 1}1201", month_end(today + dt.timedelta(days=380)),
                           start - dt.timedelta(days=60))],
    }
    chain = _Chain(demo, rng)
    for key, (index, kind, count, _dispensed) in DEMO_PACKS.items():
        lot = batches[key][index]
        chain.pack_codes[lot.pk] = demo_pack_codes(products[key], lot, kind, count)

    # Intakes: the nearly expired lot first, then regular purchases.
    n = 0
    for wholesaler, scale in ((w1, 2), (w2, 1)):
        for offset in (0, 60, 120):
            day = start + dt.timedelta(days=offset - 3)
            for key, qty in (("mife25", 1800), ("mife200", 300), ("miso", 2400), ("ethacridine", 60),
                             ("oxytocin", 200)):
                candidates = [b for b in batches[key] if (b.manufactured_on or start) <= day]
                lot = candidates[min(offset // 60, len(candidates) - 1)] if candidates else batches[key][0]
                n += 1
                chain.intake(wholesaler, lot, qty * scale, _at(day, 9, 30), f"{MARKER}FP{day:%Y%m}{n:04d}")
    for key, (index, _kind, _count, dispensed) in DEMO_PACKS.items():  # the first few are dispensed
        lot = batches[key][index]
        chain.packs_to_dispense[lot.pk] = list(PackCode.objects.filter(batch=lot).order_by("id")[:dispensed])

    # Daily rates of cases (a case = mifepristone + misoprostol); 集兵镇 spikes in month four.
    rate = {h1.pk: 2.6, h2.pk: 1.6, h3.pk: 1.0}
    spike = (start + dt.timedelta(days=95), start + dt.timedelta(days=125))
    days = [start + dt.timedelta(days=i) for i in range(182)]
    # Shipments every 11 days per institution, sized for the next period plus a buffer.
    ship_days = {h.pk: set(days[i::11]) for i, h in zip((0, 3, 6), (h1, h2, h3), strict=True)}
    shortage_done = reject_done = False
    for day in days:
        if day.weekday() == 0:
            chain.flush()
        for inst in (h1, h2, h3):
            if day in ship_days[inst.pk]:
                period_rate = rate[inst.pk] * (3.2 if inst == h3 and spike[0] - dt.timedelta(days=11) <= day <= spike[1]
                                               else 1.0)
                cases = int(period_rate * 11 * 1.4) + 4
                wants = [(batches["mife25"], cases * 4), (batches["miso"], cases * 3)]
                if inst == h1:
                    wants += [(batches["mife200"], cases // 3 + 1), (batches["ethacridine"], 4),
                              (batches["oxytocin"], 10)]
                if inst == h2 and not reject_done and day > start + dt.timedelta(days=40):
                    chain.ship(chain.supplier[inst.pk], inst, [(batches["oxytocin"], 30)], _at(day, 8), reject=True)
                    reject_done = True
                shortage = 2 if (inst == h2 and not shortage_done and day > start + dt.timedelta(days=70)) else 0
                shortage_done = shortage_done or bool(shortage)
                chain.ship(chain.supplier[inst.pk], inst, wants, _at(day, 10), shortage=shortage)
            if day >= today:
                continue
            r = rate[inst.pk] * (3.2 if inst == h3 and spike[0] <= day <= spike[1] else 1.0)
            cases = sum(1 for _ in range(8) if rng.random() < r / 8)
            for _ in range(cases):
                physician = rng.choice(demo.physicians[inst.pk])
                when = _at(day, rng.randint(8, 16), rng.randint(0, 59))
                patient = chain.patient(day)
                midterm = inst == h1 and rng.random() < 0.03
                if midterm:
                    weeks = rng.randint(14, 22)
                    if not patient["patient_resident_id"]:
                        body = f"430421{max(1985, day.year - patient['patient_age'])}0615{rng.randint(0, 499) * 2:03d}"
                        patient["patient_resident_id"] = body + ric.calc_check_digit(body + "0")
                    cert = {"midterm_certificate_number": f"衡县卫中止证〔{day.year}〕{rng.randint(1, 300)}号",
                            "midterm_certificate_office": "衡阳县卫生健康局"}
                    chain.dispense(inst, batches["ethacridine"], 2, when, weeks=weeks, dose="100 mg 羊膜腔内注射",
                                   physician=physician, patient=patient, **cert)
                    chain.dispense(inst, batches["oxytocin"], 2, when + dt.timedelta(hours=30), weeks=weeks,
                                   dose="10 IU 静滴", physician=physician, patient=dict(patient), **cert)
                    continue
                weeks = rng.choices([5, 6, 7], [3, 4, 3])[0]
                if inst == h1 and rng.random() < 0.3:
                    chain.dispense(inst, batches["mife200"], 1, when, weeks=weeks, dose="200 mg 顿服",
                                   physician=physician, patient=patient)
                else:
                    chain.dispense(inst, batches["mife25"], 6, when, weeks=weeks, dose="25 mg 每日2次，共3日",
                                   physician=physician, patient=patient)
                chain.dispense(inst, batches["miso"], 3, when + dt.timedelta(days=2) if day + dt.timedelta(days=2) < today
                               else when, weeks=weeks, dose="600 µg 顿服", physician=physician, patient=dict(patient))

    chain.flush()
    # Refusals for the inspectors: a retail pharmacy, and the hospital whose approval lapsed.
    chain.refused(w1, demo.retail_pharmacies[0], batches["mife25"], 60, _at(today - dt.timedelta(days=40), 11))
    chain.refused(w2, demo.expired_hospital, batches["mife25"], 120, _at(today - dt.timedelta(days=20), 14))
    # A damaged pack destroyed before a witness.
    dmg = chain.fefo(h1, batches["miso"], 3, today)
    if dmg is not None:
        services.disposal_record(actor=chain.pharmacist(h1), batch=dmg, quantity=3, reason="damaged",
                                 witness_name="刘护士长", note="铝塑板破损",
                                 occurred_at=_at(today - dt.timedelta(days=12), 15))
        chain.counts["disposals"] += 1
    chain.counts["positions"] = StockPosition.objects.count()
    return dict(chain.counts)
