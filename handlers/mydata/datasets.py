"""MyData datasets Onestop knows: resource ids (configuration on the platform's side) and names."""
from __future__ import annotations

HOUSEHOLD = "API.7QovE2Gev6"
WHOLE_HOUSEHOLD = "API.UDauDOLyZg"
KINSHIP = "API.Kr1C3b1ijJ"
LOW_INCOME = "API.AbAYGIjoYw"
DISABILITY = "API.nyhnLM1fve"
INCOME = "API.syWqjr4flJ"
PROPERTY = "API.Mo23SDWhsn"
VEHICLES = "API.60GGfgGX1A"
DRIVING = "API.n0c9qVZBQI"
COMPANY = "API.ea0klQl5Wp"

RESOURCES: dict[str, str] = {
    HOUSEHOLD: "個人戶籍資料",
    WHOLE_HOUSEHOLD: "現戶全戶戶籍資料",
    KINSHIP: "親屬關係資料",
    LOW_INCOME: "低收入戶及中低收入戶證明",
    DISABILITY: "身心障礙資格",
    INCOME: "個人所得資料",
    PROPERTY: "財產資料",
    VEHICLES: "車籍資料",
    DRIVING: "駕籍資料",
    COMPANY: "公司登記資料",
}
