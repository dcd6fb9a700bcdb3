require ["date", "index", "fileinto", "variables", "relational"];
if date :is "date" "year" "2026" { fileinto "y2026"; }
if date :originalzone :is "date" "hour" "09" { fileinto "orig-hour-09"; }
if date :zone "+0000" :is "date" "date" "2026-12-09" { fileinto "utc-next-day"; }
if date :zone "+0000" :matches "date" "weekday" "*" { fileinto "wd${1}"; }
if date :originalzone :matches "date" "zone" "*" { fileinto "zone${1}"; }
if header :index 2 :contains "X-Tag" "second" { fileinto "idx2"; }
if header :index 1 :last :is "X-Tag" "third" { fileinto "last1"; }
if header :index 2 :is "Received" "from c by d; Wed, 2 Dec 2026 18:29:00 +0100" { fileinto "received2"; }
if date :zone "+0000" :value "lt" "date" "date" "2026-12-05" { fileinto "before-5th"; }
