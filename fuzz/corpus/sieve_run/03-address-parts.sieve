require "fileinto";
if address :domain :is "from" "lists.test" { fileinto "by-domain"; }
if address :localpart :is "from" "alice" { fileinto "by-local"; }
if address :all :is ["to", "cc"] "user@example.test" { fileinto "direct"; }
if address :is "from" "CAROL@C.TEST" { fileinto "carol-casemap"; }
if address :comparator "i;octet" :is "to" "user@example.test" { fileinto "octet-to"; }
