require ["subaddress", "envelope", "fileinto", "variables"];
if envelope :detail "to" "lists" { fileinto "sub-lists"; }
if envelope :matches :detail "to" "*" { fileinto "detail-${1}"; }
if envelope :user "to" "user" { fileinto "user-match"; }
