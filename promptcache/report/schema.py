"""Print the JSON Schema of the report (published as docs/report.schema.json)."""

import json

from ..model.report import Report

if __name__ == "__main__":
    print(json.dumps(Report.model_json_schema(mode="serialization"), indent=2))
