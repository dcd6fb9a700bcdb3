# 30 rules of the kinds a user writes (bench/sieve.sh)
require ["fileinto", "envelope", "variables", "imap4flags", "regex", "body", "relational",
         "comparator-i;ascii-numeric", "subaddress", "copy", "mailbox"];
if header :contains "X-Spam-Status" "Yes" { fileinto "Junk"; stop; }
if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "9" { discard; stop; }
if address :is "from" "boss@work.test" { addflag "\\Flagged"; }
if address :domain :is "from" "github.test" { fileinto "GitHub"; }
if header :contains "list-id" "dev.lists.test" { fileinto "Lists/dev"; }
if header :contains "list-id" "announce.lists.test" { fileinto "Lists/announce"; }
if header :matches "list-id" "*<*.lists.test>" { fileinto "Lists/${2}"; }
if envelope :detail "to" "shop" { fileinto "Shopping"; }
if envelope :detail "to" "bank" { fileinto "Bank"; }
if header :contains "subject" ["invoice", "receipt", "payment"] { fileinto "Finance"; }
if header :regex "subject" "^\\[JIRA\\] \\(([A-Z]+)-[0-9]+\\)" { fileinto "Jira/${1}"; }
if address :localpart :is "to" "noreply" { discard; }
if header :contains "from" "newsletter" { fileinto "Newsletters"; }
if exists "X-Mailchimp-Campaign" { fileinto "Newsletters"; }
if header :is "precedence" "bulk" { addflag "bulk"; }
if size :over 5M { fileinto "Large"; }
if allof (address :domain :is "from" "family.test", not header :contains "subject" "fwd") { addflag "family"; }
if anyof (header :contains "subject" "urgent", header :contains "x-priority" "1") { addflag "\\Flagged"; }
if header :matches "subject" "Re: *" { set "thread" "${1}"; }
if string :is "${thread}" "lunch?" { fileinto "Social"; }
if address :all :is "cc" "team@work.test" { fileinto :copy "Team"; }
if header :contains "received" "suspicious.test" { fileinto "Quarantine"; }
if header :count "gt" :comparator "i;ascii-numeric" "received" "15" { fileinto "Loops"; }
if envelope :domain :is "from" "calendar.test" { fileinto "Calendar"; }
if header :contains "content-type" "text/calendar" { fileinto "Calendar"; }
if header :matches "message-id" "*@*.jira.test>" { fileinto "Jira"; }
if address :is "to" "old-address@example.test" { fileinto "Old"; }
if header :contains "subject" "[dev]" { addflag "dev"; }
if body :contains "unsubscribe" { fileinto "Bulk"; }
if header :contains "auto-submitted" "auto-generated" { fileinto "Automated"; }
