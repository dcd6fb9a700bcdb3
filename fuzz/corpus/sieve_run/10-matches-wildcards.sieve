require ["variables", "fileinto"];
if header :matches "subject" "*.*" { fileinto "x${1}"; }
if header :matches "subject" "*[*]*" { fileinto "bracket"; }
if header :matches "subject" "\\[dev\\]*" { fileinto "escaped"; }
if header :matches "message-id" "<*.*@*>" { fileinto "mid-${2}-${3}"; }
