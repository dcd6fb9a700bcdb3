require ["envelope", "fileinto"];
if envelope :domain :is "from" "lists.test" { fileinto "env-lists"; }
if envelope :localpart :matches "to" "user*" { fileinto "env-to-user"; }
if envelope :all :contains "from" "mailer-daemon" { fileinto "env-daemon"; }
