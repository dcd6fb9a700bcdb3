# editheader: later tests see the edited header; Received cannot be deleted
require ["editheader","fileinto","variables", "relational", "comparator-i;ascii-numeric", "index"];
addheader "X-New" "v1";
addheader :last "X-New" "v2";
if header :index 1 :is "x-new" "v1" { fileinto "first-v1"; }
if header :matches "x-new" "*" { fileinto "m-${1}"; }
deleteheader "received";
addheader "Received" "x";
if header :count "eq" :comparator "i;ascii-numeric" "received" "2" { fileinto "recv2"; }
deleteheader :index 1 "x-new";
if header :is "x-new" "v2" { fileinto "only-v2"; }
addheader "X-U" "Grüße";
if header :is "x-u" "Grüße" { fileinto "utf8"; }
deleteheader :contains "x-tag" "ir";
if header :is "x-tag" ["first", "second"] { fileinto "tag-left"; }
if header :index 1 :is "x-tag" "second" { fileinto "second-now-first"; }