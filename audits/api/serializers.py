from django.utils.translation import gettext as _
from rest_framework import serializers

from audits.models import (
    CountLine,
    CountSession,
    SalesFiling,
    SalesFilingLine,
    SignedClosing,
    SignedClosingLine,
)
from inventory.models import MAX_QUANTITY

REASONS_HELP = "breakage, suspected_loss, entry_error or other"


class CountLineSerializer(serializers.ModelSerializer):
    lot_number = serializers.CharField(source="batch.lot_number", read_only=True)
    reason = serializers.CharField(read_only=True, help_text=REASONS_HELP)
    product = serializers.CharField(source="batch.product.__str__", read_only=True)

    class Meta:
        model = CountLine
        fields = ["id", "batch", "lot_number", "product", "counted", "book_quantity", "variance", "reason",
                  "reason_note", "suspected_loss", "stock_count", "scanned_codes"]
        read_only_fields = fields


class CountSessionSerializer(serializers.ModelSerializer):
    lines = CountLineSerializer(many=True, read_only=True)
    holder_name = serializers.CharField(source="holder.name", read_only=True)

    class Meta:
        model = CountSession
        fields = ["id", "holder", "holder_name", "status", "note", "opened_by", "opened_at", "closed_by", "closed_at",
                  "approved_by", "approved_at", "lines"]
        read_only_fields = fields


class CountOpenSerializer(serializers.Serializer):
    holder = serializers.IntegerField(required=False, help_text="organisation id (inspectors); default: your own")
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class CountLineInputSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    counted = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY)


class CountScanSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=2000, trim_whitespace=False,
                                 help_text="the scanner's text as typed, read as POST /api/scan/ reads it "
                                           "(a traceability code, a GS1 element string with its serial, "
                                           "]d2/]C1 prefixes, <GS>, CR/LF)")


class CountReasonSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    reason = serializers.CharField(max_length=20, help_text=REASONS_HELP)  # checked by the service
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class CountCloseSerializer(serializers.Serializer):
    reasons = CountReasonSerializer(many=True, required=False, default=list)


class SignedClosingLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = SignedClosingLine
        exclude = ["closing"]


class SignedClosingSerializer(serializers.ModelSerializer):
    lines = SignedClosingLineSerializer(many=True, read_only=True)
    holder_name = serializers.CharField(source="holder.name", read_only=True)
    month = serializers.DateField(format="%Y-%m")

    class Meta:
        model = SignedClosing
        fields = ["id", "holder", "holder_name", "month", "signed_by", "signed_at", "statement", "previous", "lines"]
        read_only_fields = fields


class ClosingPreviewSerializer(serializers.Serializer):
    """A month's closing as it stands (for the schema: audits.closing.closing_preview)."""

    holder = serializers.IntegerField()
    month = serializers.CharField(help_text="YYYY-MM")
    signed = serializers.IntegerField(allow_null=True, help_text="the signed closing's id once the month is signed")
    lines = serializers.ListField(
        child=serializers.DictField(),
        help_text="per batch (`batch_id`): opening, received, returned, dispatched, dispensed, disposed, seized, "
                  "adjusted, corrected, prior_period, closing_balance, in_transit, last_count_at, last_counted, "
                  "last_count_variance, references (a signed month: its stored lines)")


class ClosingSignSerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$")
    statement = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class SalesFilingLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = SalesFilingLine
        fields = ["id", "line_number", "sold_on", "customer", "batch", "quantity", "invoice_number"]


class SalesFilingSerializer(serializers.ModelSerializer):
    wholesaler_name = serializers.CharField(source="wholesaler.name", read_only=True)
    month = serializers.DateField(format="%Y-%m")

    class Meta:
        model = SalesFiling
        fields = ["id", "wholesaler", "wholesaler_name", "month", "version", "supersedes", "amendment_reason",
                  "source", "file_sha256", "row_count", "total_quantity", "no_sales", "due_on", "late",
                  "submitted_by", "submitted_at"]
        read_only_fields = fields

    no_sales = serializers.SerializerMethodField()

    def get_no_sales(self, filing) -> bool:
        """A nil return: the wholesaler declared no sales that month."""
        return filing.row_count == 0


class SalesFilingRowSerializer(serializers.Serializer):
    """One row of a JSON filing (shape only: the rules are checked by the service with
    line numbers)."""

    date = serializers.CharField(allow_blank=True)
    customer = serializers.CharField(allow_blank=True, required=False, default="")
    customer_credit_code = serializers.CharField(allow_blank=True)
    drug = serializers.CharField(allow_blank=True)
    specification = serializers.CharField(allow_blank=True)
    batch = serializers.CharField(allow_blank=True)
    quantity = serializers.CharField(allow_blank=True)
    invoice_number = serializers.CharField(allow_blank=True)


class SalesFilingInputSerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$")
    amendment_reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    rows = SalesFilingRowSerializer(many=True, required=False)
    file = serializers.FileField(required=False)
    no_sales = serializers.BooleanField(required=False, default=False,
                                        help_text=_("a nil return: no sales this month (no rows, no file)"))

    def validate(self, attrs):
        if attrs.get("no_sales"):
            if attrs.get("rows") or attrs.get("file"):
                raise serializers.ValidationError(_("a nil return (no_sales) carries no rows and no file"))
            return attrs
        if bool(attrs.get("rows")) == bool(attrs.get("file")):
            raise serializers.ValidationError(_("send either rows (JSON) or a file (CSV or XLSX)"))
        return attrs


class FilingStatusRowSerializer(serializers.Serializer):
    """One organisation's one form for the month (audits.filings.filing_status)."""

    organisation = serializers.IntegerField()
    organisation_name = serializers.CharField()
    kind = serializers.CharField()
    form = serializers.ChoiceField(choices=["usage_register", "drug_summary", "sales_summary"])
    form_name = serializers.CharField()
    month = serializers.CharField(help_text="YYYY-MM")
    due_on = serializers.DateField()
    filed_at = serializers.DateTimeField(allow_null=True)  # in the server's time zone, like every timestamp
    status = serializers.ChoiceField(choices=["filed", "late", "missing", "not_yet_due"])
    reference = serializers.IntegerField(allow_null=True, help_text="the sales filing or the signed closing")
    versions = serializers.IntegerField()


class FilingStatusSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    jurisdiction = serializers.CharField()
    results = FilingStatusRowSerializer(many=True)
