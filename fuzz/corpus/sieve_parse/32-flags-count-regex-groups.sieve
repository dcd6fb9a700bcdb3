require ["imap4flags", "relational", "comparator-i;ascii-numeric", "variables", "regex", "fileinto"];
addflag ["a", "b", "c"];
if hasflag :count "eq" :comparator "i;ascii-numeric" "3" { fileinto "three-flags"; }
if header :regex "from" "([a-z]+)@([a-z.]+)" { fileinto "rx-${2}-${1}"; }
set :upper "up" "${1}";
fileinto :flags "${up}" "upper";
