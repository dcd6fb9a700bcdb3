require ["imap4flags", "fileinto"];
setflag "\\Seen";
addflag ["\\Flagged", "$Important"];
if header :contains "subject" "meeting" { removeflag "\\Seen"; }
if hasflag :contains "flagged" { fileinto "Flagged"; }
fileinto :flags ["\\Answered", "custom"] "WithFlags";
if not hasflag "\\Seen" { addflag "notseen"; }
