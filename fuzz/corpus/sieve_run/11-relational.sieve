require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "5" { fileinto "score-high"; }
if header :count "ge" :comparator "i;ascii-numeric" "X-Tag" "3" { fileinto "three-tags"; }
if address :count "eq" :comparator "i;ascii-numeric" ["to", "cc"] "2" { fileinto "two-rcpts"; }
if header :value "lt" "subject" "N" { fileinto "subject-before-n"; }
