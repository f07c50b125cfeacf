"""Scanning (issue 5): what a scanner types or a photo shows, as typed payloads.

- `scanning.codec`: `parse(raw)` -> `Gs1Payload | TraceCodePayload | OwnLabelPayload |
  PlainPayload | ScanError`, pure and never raising; `render_gs1`, `batch_label_text`,
  `device_tag_text`; our label prefixes `DV-` (devices, `DV-<id, 8 digits>`) and `BT-`
  (`BT-<product id>-<lot>`, batches of products without a GTIN).
- `scanning.decode`: `decode_image(pil_image)` / `decode_bytes(data)` -> `[DecodedCode]`
  (symbology, text, rect/polygon, decoder, payload, aim, stage). No upload validation here.
- `scanning.labels`: Code 128 / GS1-128 labels as PNG and SVG, A4 sheets as HTML
  (`label_sheet_html`) or PDF (`label_sheet_pdf`); the one label renderer (device asset
  labels too). `scanning.label_views`: the batch label and sheet endpoints.

For the scan endpoint: every result has `.ok` and `.as_dict()` (JSON-ready, with `kind`)
for the response and the scan log; `ScanError.code` is stable (`codec.ERROR_CODES`).
Look codes up by: `Gs1Payload.gtin` (14 digits, as `DrugProduct.gtins`) + `.lot`, the
pack by `.sgtin` (GTIN + serial: a GS1 serial is unique only per GTIN);
`TraceCodePayload.product_code` (= `DrugProduct.traceability_product_code`) and `.code`
(the pack); `OwnLabelPayload.device_tag` (= `Device.asset_tag`) or `.product_id` + `.lot`;
`PlainPayload.gtin` for a bare EAN-13.
"""
