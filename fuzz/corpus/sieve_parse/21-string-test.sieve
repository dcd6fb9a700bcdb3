require ["variables", "fileinto", "relational", "comparator-i;ascii-numeric"];
set "a" "one";
set "b" "";
if string :count "eq" :comparator "i;ascii-numeric" ["${a}", "${b}", "two"] "2" { fileinto "count-nonempty"; }
if string :matches "${a}" "o*" { fileinto "str-${1}"; }
if string :is "${undefined}" "" { fileinto "undef-empty"; }
