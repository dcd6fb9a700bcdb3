require ["regex", "variables", "fileinto"];
if header :regex "subject" "^\\[([a-z]+)\\] patch ([0-9])/([0-9])" { fileinto "re-${1}-${2}of${3}"; }
if address :regex :domain "from" "^(a|c)\\.test$" { fileinto "re-ac"; }
if header :regex :comparator "i;octet" "subject" "MEETING" { fileinto "re-octet"; }
if header :regex "subject" "MEETING" { fileinto "re-casemap"; }
