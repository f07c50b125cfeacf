"""What inspectors check on a visit (DOMAIN.md, "Joint enforcement"), and the rules a
finding can cite. Pure data: no database access here.

Each checklist item says which kinds of site it applies to; a visit's checklist is the
items that apply to its site's kind (an ad-hoc site without a registered organisation gets
every item). The rules a finding cites are the checklist items plus what scans and counts
reveal (an unregistered device, a device at the wrong holder or missing, stock off the
books, a count that differs from the books).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from backend.models import Organisation

K = Organisation.Kind
MEDICAL = frozenset({K.HOSPITAL, K.TOWNSHIP_HEALTH_CENTRE, K.FAMILY_PLANNING, K.PRIVATE_CLINIC, K.INDIVIDUAL_CLINIC})
INSTITUTIONS = frozenset({K.HOSPITAL, K.TOWNSHIP_HEALTH_CENTRE, K.FAMILY_PLANNING, K.PRIVATE_CLINIC})
NO_DRUGS = frozenset({K.RETAIL_PHARMACY, K.INDIVIDUAL_CLINIC})
HOLDERS = INSTITUTIONS | {K.WHOLESALER}


@dataclass(frozen=True)
class Item:
    code: str
    title: str  # as printed on the report (Chinese, the documents' wording)
    label: object  # translatable label for the API
    kinds: frozenset


CHECKLIST: tuple[Item, ...] = (
    Item("warning_signs", "B超室、药房、妇产科病房张贴禁止“两非”警示标志",
         _("warning signs against non-medical sex determination posted"), MEDICAL | {K.RETAIL_PHARMACY}),
    Item("devices_match_register", "在用B超、染色体检测设备与登记备案一致",
         _("devices present match the register"), MEDICAL),
    Item("operators_licensed", "操作人员持证上岗（母婴保健技术考核合格证书）",
         _("operators on duty are licensed"), INSTITUTIONS),
    Item("exam_register_kept", "建立并填写孕妇超声波诊断检查登记表",
         _("the exam register is kept"), INSTITUTIONS),
    Item("drug_custodian_named", "终止妊娠药品专人保管", _("a drug custodian is named"), HOLDERS),
    Item("prescriptions_kept", "终止妊娠药品处方长期保存", _("prescriptions are kept"), INSTITUTIONS),
    Item("monthly_reconciliation_signed", "每月核对进出数量并签字记录",
         _("the monthly reconciliation is signed"), HOLDERS),
    Item("no_termination_drugs", "药品零售企业、个体诊所不得经营或使用终止妊娠药品",
         _("no termination drugs at retail pharmacies or individual clinics"), NO_DRUGS),
    Item("sales_to_authorized_only", "终止妊娠药品只销售给经批准的医疗机构",
         _("sales only to authorized recipients"), frozenset({K.WHOLESALER, K.MANUFACTURER})),
)
ITEMS = {item.code: item for item in CHECKLIST}


def items_for(kind: str | None) -> list[Item]:
    """The checklist of a site of `kind` (None: an ad-hoc site, every item)."""
    return [item for item in CHECKLIST if kind is None or kind in item.kinds]


# Rules a finding cites beyond the checklist (what scans and counts show).
SCAN_RULES = {
    "device_unregistered": ("发现未登记备案的B超或染色体检测设备", _("an unregistered device was found")),
    "device_at_wrong_holder": ("设备不在登记的使用单位", _("a device was found at a holder other than the registered one")),
    "device_missing": ("登记在册的设备未见实物", _("a registered device was not found")),
    "stock_off_books": ("终止妊娠药品账外存放", _("termination drugs held off the books")),
    "count_variance": ("账物不符", _("the count differs from the books")),
    "other": ("其他违法违规情形", _("other")),
}
RULES = {**{item.code: (item.title, item.label) for item in CHECKLIST}, **SCAN_RULES}


def rule_title(code: str) -> str:
    return RULES.get(code, (code, code))[0]
