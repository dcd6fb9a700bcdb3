require ["fileinto", "envelope", "variables", "imap4flags"];
if header :contains "subject" "invoice" { fileinto "Invoices"; stop; }
if header :contains "subject" "report" { fileinto "Reports"; }
if address :is "from" "bob@lists.test" { addflag "bob"; }
if header :contains "list-id" "dev.lists.test" { fileinto "Dev"; }
if envelope :is "from" "dave@d.test" { fileinto "Dave"; }
if header :matches "subject" "Re: *" { set "s" "${1}"; fileinto "re.${s}"; }
if header :contains "x-spam-status" "yes" { discard; stop; }
keep;
