require ["index", "envelope", "fileinto", "variables", "subaddress"];
if address :index 1 :last :matches "to" "*@*" { fileinto "lastto-${2}"; }
if envelope :all :matches "to" "*" { fileinto "envto-${1}"; }
if address :user :is "to" "user" { fileinto "user-in-to"; }
if not address :detail :matches "to" "*" { fileinto "no-detail-in-to"; }
