require ["fileinto", "variables"];
set "t" text:
first line
..dotted
.
;
if string :contains "${t}" ".dotted" { fileinto "dotstuff-ok"; }
/* a bracket comment
   over two lines */
if header :contains "subject" "patch" # a hash comment
{ fileinto "after-comments"; }
